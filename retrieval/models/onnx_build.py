"""Building, caching and opening int8 ONNX Runtime models: shared by the encoder and the reader.

A model is exported from PyTorch once, its weights quantized to int8, and the file cached
under a name that hashes everything that shapes it, so a change of weights or settings
builds a new file and a finished file is never rebuilt. torch is imported only to build.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import onnxruntime
    import torch

log = logging.getLogger(__name__)

OPSET = 17
"""First opset with a LayerNormalization operator."""

INT8_BUILD: dict[str, Any] = {
    "format": 1,
    "exporter": "torchscript",
    "opset": OPSET,
    "attention": "eager",
    "weight_type": "QInt8",
    "per_channel": True,
    "reduce_range": True,
    "op_types": ["MatMul"],
}
"""How the encoder and the reader are exported and quantized; each adds the matrix it
keeps in fp32 (and the reader its length). Part of the cached files' names."""


def digest_files(paths: Iterable[Path], extra: bytes = b"") -> str:
    """A short content hash of files (and ``extra``), for cache file names."""
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    digest.update(extra)
    return digest.hexdigest()[:16]


def build_once(target: Path, build: Callable[[Path, Path], None]) -> None:
    """Run ``build(fp32_path, int8_path)`` in a scratch folder and move the result to ``target``.

    The rename is atomic, so a reader of the cache never sees a half-written model and
    an interrupted build leaves nothing behind.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as scratch:
        fp32, int8 = Path(scratch) / "fp32.onnx", Path(scratch) / "int8.onnx"
        build(fp32, int8)
        os.replace(int8, target)


BATCH_BY_SEQUENCE = {0: "batch", 1: "sequence"}


def export(
    module: torch.nn.Module,
    target: Path,
    input_names: list[str],
    outputs: dict[str, dict[int, str]],
) -> None:
    """Export ``module``, called with int64 ``input_names`` of shape batch x sequence.

    Args:
        outputs: each output's name and its dynamic axes ({0: "batch"}, ...).
    """
    import torch

    example = torch.ones((2, 8), dtype=torch.long)
    dynamic = {name: BATCH_BY_SEQUENCE for name in input_names} | outputs
    with warnings.catch_warnings(), torch.no_grad():
        # The legacy exporter's deprecation and tracer notices are expected here.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            tuple(
                example if "type" not in name else torch.zeros_like(example) for name in input_names
            ),
            str(target),
            input_names=input_names,
            output_names=list(outputs),
            dynamic_axes=dynamic,
            opset_version=OPSET,
            dynamo=False,
        )


def quantize(source: Path, target: Path, settings: dict[str, Any]) -> None:
    """Dynamic int8 quantization of the weights, as ``settings`` say."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # quantize_dynamic ignores unknown names, which would silently quantize a
    # sensitive matrix if an exporter update renamed it.
    names = {node.name for node in onnx.load(str(source), load_external_data=False).graph.node}
    missing = sorted(set(settings["exclude"]) - names)
    if missing:
        raise RuntimeError(f"the exported graph has no node named {missing}")

    # The quantizer logs a line per tensor straight to the root logger.
    chatter = _DropRecordsFrom("onnxruntime")
    logging.getLogger().addFilter(chatter)
    try:
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType[settings["weight_type"]],
            per_channel=settings["per_channel"],
            reduce_range=settings["reduce_range"],
            op_types_to_quantize=settings["op_types"],
            nodes_to_exclude=settings["exclude"],
        )
    finally:
        logging.getLogger().removeFilter(chatter)


def open_session(path: Path, threads: int) -> onnxruntime.InferenceSession:
    """An ONNX Runtime CPU session on ``threads`` threads (one thread: no spinning)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads == 1:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    log.info("loading %s with %d threads", path, threads)
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class _DropRecordsFrom(logging.Filter):
    """Drops records emitted from source files under a package directory."""

    def __init__(self, package: str) -> None:
        super().__init__()
        self._marker = f"{os.sep}{package}{os.sep}"

    def filter(self, record: logging.LogRecord) -> bool:
        return self._marker not in record.pathname
