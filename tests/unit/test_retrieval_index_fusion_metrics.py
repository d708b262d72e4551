"""faiss against exact search; reciprocal-rank fusion and the metrics against hand-computed values."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from genai_foundations.retrieval.chunking import Chunk
from genai_foundations.retrieval.fusion import reciprocal_rank_fusion
from genai_foundations.retrieval.metrics import (evaluate, precision_at_k, recall_at_k, reciprocal_rank,
                                                 relevant_chunks, span_recall_at_k)
from genai_foundations.retrieval.vector_index import build_index, exact_search, index_search, neighbour_recall


@pytest.fixture(scope="module")
def data():
    gen = torch.Generator().manual_seed(0)
    vectors = F.normalize(torch.randn(2000, 32, generator=gen), dim=1)
    queries = F.normalize(torch.randn(100, 32, generator=gen), dim=1)
    return vectors, queries


def test_flat_index_equals_exact_search(data):
    vectors, queries = data
    scores, exact = exact_search(queries, vectors, 10)
    found_scores, found = index_search(build_index(vectors, "flat"), queries, 10)
    assert neighbour_recall(found, exact.numpy()) >= 0.99
    np.testing.assert_allclose(found_scores, scores.numpy(), atol=1e-5)


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_indices_are_measured(data, kind):
    vectors, queries = data
    _, exact = exact_search(queries, vectors, 10)
    _, found = index_search(build_index(vectors, kind), queries, 10)
    recall = neighbour_recall(found, exact.numpy())
    assert 0.3 < recall <= 1.0  # approximate: measured, not exact (random 32-d data is a hard case)


def test_rrf_by_hand():
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a", "d"]], k=60)
    expected = {"a": 1 / 61 + 1 / 62, "b": 1 / 62, "c": 1 / 63 + 1 / 61, "d": 1 / 63}
    assert [d for d, _ in fused] == ["a", "c", "b", "d"]
    assert all(s == pytest.approx(expected[d], rel=1e-15) for d, s in fused)
    assert reciprocal_rank_fusion([[1, 2], [2, 1]], k=0) == [(1, 1.5), (2, 1.5)]  # a tie keeps first-met order
    assert reciprocal_rank_fusion([[5, 5, 6]], k=1) == [(5, 0.5), (6, 0.25)]  # repeated id counts once
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([[1]], k=-1)


def test_metrics_by_hand():
    ranked, relevant = [3, 7, 1, 9, 4], {1, 4, 8}
    assert precision_at_k(ranked, relevant, 3) == pytest.approx(1 / 3)
    assert recall_at_k(ranked, relevant, 3) == pytest.approx(1 / 3)
    assert precision_at_k(ranked, relevant, 5) == pytest.approx(2 / 5)
    assert recall_at_k(ranked, relevant, 5) == pytest.approx(2 / 3)
    assert precision_at_k(ranked, relevant, 10) == pytest.approx(2 / 10)
    assert reciprocal_rank(ranked, relevant) == pytest.approx(1 / 3) and reciprocal_rank([2], relevant) == 0
    with pytest.raises(ValueError):
        recall_at_k(ranked, set(), 3)
    with pytest.raises(ValueError):
        precision_at_k(ranked, relevant, 0)
    out = evaluate([[0, 1], [2, 3], [4, 5]], [{1}, {9}, {4, 5}], ks=(1, 2))
    assert out == {"R@1": pytest.approx(1 / 3), "R@2": pytest.approx(2 / 3), "MRR": pytest.approx((0.5 + 0 + 1) / 3)}


def test_span_relevance():
    chunks = [Chunk(0, 10, ""), Chunk(8, 20, ""), Chunk(22, 30, "")]
    assert relevant_chunks(chunks, (6, 12)) == {0, 1}  # middle character 8 lies in both
    assert relevant_chunks(chunks, (20, 26)) == {2}
    assert span_recall_at_k([1, 2], chunks, (20, 26), 1) == 0.0 and span_recall_at_k([1, 2], chunks, (20, 26), 2) == 1.0
    with pytest.raises(ValueError):
        relevant_chunks(chunks, (5, 5))
