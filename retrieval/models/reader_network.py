"""The reader's PyTorch network: MiniLM reading question and passage together, three heads.

Imported only to train the reader or to export it to ONNX once; answering runs the
exported int8 graph (:mod:`retrieval.models.reader`) and never loads torch.

The shipped weights hold everything training changes (the six transformer layers, the
small embedding tables and the heads) in fp16; the large word-embedding table is frozen
during training and comes from the packaged all-MiniLM-L6-v2 at load time, which keeps
the shipped file under 25 MB.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from transformers import BertConfig, BertModel

FROZEN = "body.embeddings.word_embeddings.weight"
"""The one tensor training leaves as packaged (11.7M of MiniLM's 22.7M parameters)."""


class ReaderNetwork(torch.nn.Module):
    """Question and passage in, one joint encoding, out: start and end logits per token and
    a relevance logit per pair ([CLS]). A span at [CLS] (position 0) means "no answer here"."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.body = BertModel(config, add_pooling_layer=False)
        hidden = config.hidden_size
        self.span = torch.nn.Linear(hidden, 2)
        self.relevance = torch.nn.Sequential(torch.nn.Dropout(0.1), torch.nn.Linear(hidden, 1))

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        hidden = self.body(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        start, end = self.span(hidden).unbind(-1)
        relevance = self.relevance(hidden[:, 0]).squeeze(-1)
        return start, end, relevance

    @classmethod
    def from_encoder(cls, model_dir: Path) -> ReaderNetwork:
        """A new reader on the packaged sentence encoder's weights (heads initialised fresh)."""
        encoder = BertModel.from_pretrained(
            str(model_dir), add_pooling_layer=False, attn_implementation="eager"
        )
        network = cls(encoder.config)
        network.body.load_state_dict(encoder.state_dict())
        network.body.embeddings.word_embeddings.weight.requires_grad_(False)
        return network

    @classmethod
    def load(cls, model_dir: Path, weights: Path) -> ReaderNetwork:
        """The trained reader: the packaged word embeddings plus the shipped weights."""
        network = cls.from_encoder(model_dir)
        trained = {name: tensor.float() for name, tensor in load_file(str(weights)).items()}
        missing, unexpected = network.load_state_dict(trained, strict=False)
        if unexpected or set(missing) != {FROZEN}:
            raise ValueError(
                f"{weights}: not reader weights for this model "
                f"(missing {sorted(set(missing) - {FROZEN})}, unexpected {sorted(unexpected)})"
            )
        return network.eval()

    def save(self, weights: Path, metadata: dict[str, object]) -> None:
        """Write every trained tensor in fp16 (the frozen word embeddings excluded)."""
        tensors = {
            name: tensor.detach().to(torch.float16).contiguous()
            for name, tensor in self.state_dict().items()
            if name != FROZEN
        }
        weights.parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(weights), metadata={"citebot": json.dumps(metadata)})
