"""Hybrid search by reciprocal-rank fusion (RRF): combine rankings using ranks only, never raw scores.

For rankings :math:`r = 1..R` (each a list of ids, best first) and a document
:math:`d` at 1-based position :math:`\\mathrm{rank}_r(d)` in ranking :math:`r`,

.. math::

    \\mathrm{RRF}(d) = \\sum_{r:\\, d \\in r} \\frac{1}{k + \\mathrm{rank}_r(d)}   \\qquad \\text{(RRF)}

with :math:`k = 60` as in Cormack, Clarke and Büttcher (2009). A document
absent from a ranking gets nothing from it. Because only ranks enter, BM25's
unbounded scores and a cosine similarity in [-1, 1] need no common scale.
"""

from __future__ import annotations

from typing import Hashable, Sequence


def reciprocal_rank_fusion(rankings: Sequence[Sequence[Hashable]], k: float = 60.0) -> list[tuple[Hashable, float]]:
    """Fuse rankings by (RRF): ``[(id, score), ...]`` sorted by score, best first.

    Ties keep the order in which the ids were first met (ranking by ranking,
    position by position). An id repeated inside one ranking counts at its
    first position only. ``k`` must be >= 0.
    """
    if k < 0:
        raise ValueError(f"the RRF constant k must be >= 0, got {k}")
    scores: dict[Hashable, float] = {}
    for ranking in rankings:
        seen = set()
        for position, doc in enumerate(ranking, start=1):
            if doc in seen:
                continue
            seen.add(doc)
            scores[doc] = scores.get(doc, 0.0) + 1.0 / (k + position)
    items = list(scores.items())
    return [items[i] for i in sorted(range(len(items)), key=lambda i: (-items[i][1], i))]
