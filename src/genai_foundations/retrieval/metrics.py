"""Retrieval metrics: Precision@K, Recall@K and the reciprocal rank, with relevance defined on character spans.

For one query with the set :math:`\\mathcal R` of relevant items and a ranked
list whose first :math:`K` items are :math:`\\mathcal T_K`:

.. math::

    \\mathrm{P@}K = \\frac{|\\mathcal T_K \\cap \\mathcal R|}{K}, \\qquad
    \\mathrm{R@}K = \\frac{|\\mathcal T_K \\cap \\mathcal R|}{|\\mathcal R|}, \\qquad
    \\mathrm{RR} = \\frac{1}{\\text{position of the first relevant item}}   \\qquad \\text{(P@K, R@K, RR)}

(RR = 0 when no relevant item is ranked); MRR is the mean of RR over queries.
P@K divides by K even when fewer than K items were returned (a short list
does not earn precision). In the benchmark, what is relevant is a *span* of
the source text: :func:`relevant_chunks` lists the chunks that contain the
span's middle character, so a query has one relevant location whatever the
chunker, and :func:`span_recall_at_k` asks whether that location is in the top K.
"""

from __future__ import annotations

from typing import Hashable, Iterable, Sequence


def _check_k(k: int) -> None:
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"K must be a positive int, got {k!r}")


def precision_at_k(ranked: Sequence[Hashable], relevant: Iterable[Hashable], k: int) -> float:
    """(P@K): the share of the first ``k`` ranked items that are relevant (duplicates count once)."""
    _check_k(k)
    relevant = set(relevant)
    return len(set(ranked[:k]) & relevant) / k


def recall_at_k(ranked: Sequence[Hashable], relevant: Iterable[Hashable], k: int) -> float:
    """(R@K): the share of the relevant items found in the first ``k``; ValueError if nothing is relevant."""
    _check_k(k)
    relevant = set(relevant)
    if not relevant:
        raise ValueError("Recall@K is undefined for a query without relevant items")
    return len(set(ranked[:k]) & relevant) / len(relevant)


def reciprocal_rank(ranked: Sequence[Hashable], relevant: Iterable[Hashable]) -> float:
    """(RR): 1 / position (1-based) of the first relevant item, 0 if none is ranked."""
    relevant = set(relevant)
    for position, item in enumerate(ranked, start=1):
        if item in relevant:
            return 1.0 / position
    return 0.0


def relevant_chunks(chunks: Sequence, span: tuple[int, int]) -> set[int]:
    """Indices of the chunks (objects with ``start``, ``end``) that contain the middle character of ``span``."""
    a, b = span
    if b <= a:
        raise ValueError(f"a span must have end > start, got {span}")
    mid = (a + b - 1) // 2
    return {i for i, c in enumerate(chunks) if c.start <= mid < c.end}


def span_recall_at_k(ranked: Sequence[int], chunks: Sequence, span: tuple[int, int], k: int) -> float:
    """1.0 if one of the first ``k`` ranked chunks contains the span's middle character, else 0.0."""
    _check_k(k)
    return float(any(chunks[i].start <= (span[0] + span[1] - 1) // 2 < chunks[i].end for i in ranked[:k]))


def evaluate(rankings: Sequence[Sequence[int]], relevant: Sequence[set], ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """Mean Recall@K (one relevant location per query: found or not) for each K, and MRR, over all queries.

    ``relevant[i]`` is the set of chunk indices that hold query i's location
    (:func:`relevant_chunks`); a query counts as found at K when any of them
    is in the top K, which is Recall@K with one relevant location.
    """
    if len(rankings) != len(relevant) or not rankings:
        raise ValueError("need one ranking per query and at least one query")
    out = {}
    for k in ks:
        _check_k(k)
        out[f"R@{k}"] = sum(bool(set(r[:k]) & rel) for r, rel in zip(rankings, relevant)) / len(rankings)
    out["MRR"] = sum(reciprocal_rank(r, rel) for r, rel in zip(rankings, relevant)) / len(rankings)
    return out
