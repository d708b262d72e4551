"""BM25 equals rank_bm25's BM25Okapi (the ATIRE idf with its epsilon floor) on the same tokens."""

import math

import numpy as np
import pytest
import rank_bm25
import torch

from genai_foundations.data.python_docs import load_python_docs, python_docs_topics
from genai_foundations.retrieval.bm25 import BM25, term_score, tokenize
from genai_foundations.retrieval.chunking import chunk_corpus

QUERIES = ["how does the with statement call __exit__", "the the a of is", "dict keys view objects",
           "unknownword", "class class definition metaclass", ""]


@pytest.fixture(scope="module")
def documents():
    chunks = chunk_corpus(load_python_docs(), python_docs_topics()[:25], "recursive", 600)
    return [tokenize(c.text) for c in chunks]


def test_tokenize():
    assert tokenize("The __init__() of a Class, x2") == ["the", "__init__", "of", "a", "class", "x2"]


def test_scores_equal_rank_bm25_okapi(documents):
    ours, ref = BM25(documents), rank_bm25.BM25Okapi(documents)
    assert any(v < 0 for v in [math.log(len(documents) - f + 0.5) - math.log(f + 0.5)
                               for f in [sum("the" in set(d) for d in documents)]])  # the floor is exercised
    for q in QUERIES:
        np.testing.assert_allclose(ours.scores(tokenize(q)), ref.get_scores(tokenize(q)), rtol=1e-12, atol=1e-12)
    for k1, b in [(0.9, 0.4), (2.0, 1.0)]:
        ours, ref = BM25(documents, k1=k1, b=b), rank_bm25.BM25Okapi(documents, k1=k1, b=b)
        np.testing.assert_allclose(ours.scores(tokenize(QUERIES[0])), ref.get_scores(tokenize(QUERIES[0])), rtol=1e-12)


def test_lucene_idf_and_term_score_closed_form():
    docs = [["a", "b"], ["a", "c", "c"], ["a"]]
    bm = BM25(docs, idf="lucene")
    n_c, N = 1, 3
    idf_c = math.log(1 + (N - n_c + 0.5) / (n_c + 0.5))
    expected = idf_c * 2 * 2.5 / (2 + 1.5 * (1 - 0.75 + 0.75 * 3 / 2))
    assert bm.scores(["c"])[1] == pytest.approx(expected, rel=1e-12)
    assert (bm.idf > 0).all()  # "a" is in every document: Lucene keeps it positive
    assert float(term_score(torch.tensor(2.0), idf_c, 3, 2)) == pytest.approx(expected, rel=1e-6)


def test_search_order_and_errors(documents):
    bm = BM25(documents)
    idx, scores = bm.search(tokenize(QUERIES[0]), 5)
    assert list(scores) == sorted(scores, reverse=True) and len(idx) == 5
    with pytest.raises(ValueError):
        BM25([])
    with pytest.raises(ValueError):
        BM25(documents, idf="bm42")
