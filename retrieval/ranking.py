"""Fusing the dense and lexical rankings, and the priors applied after fusion."""

from __future__ import annotations

from collections.abc import Sequence

RRF_K = 60
"""Reciprocal rank fusion constant (Cormack et al., 2009)."""
LEAD_BONUS = 0.5 / (RRF_K + 1)
"""News is written lead first: an article's opening passage gets half a top rank's weight."""


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]]) -> dict[int, float]:
    """{id: fused score}, best first, from several rankings of ids (best first each)."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking):
            fused[item] = fused.get(item, 0.0) + 1.0 / (RRF_K + rank + 1)
    return dict(sorted(fused.items(), key=lambda entry: entry[1], reverse=True))


def with_priors(fused_score: float, ordinal: int) -> float:
    """The fused score with the lead-passage prior."""
    return fused_score + (LEAD_BONUS if ordinal == 0 else 0.0)
