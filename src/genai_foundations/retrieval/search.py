"""Search over chunks: BM25, dense, hybrid (RRF) and hybrid + reranker, and the book search of chapter 23.

:class:`ChunkRetriever` holds one collection of chunks with both indices
(BM25 over their tokens, the dense encoder's vectors in a faiss index) and
ranks chunks for a query by any of :data:`METHODS`. :func:`build_book_search`
is the small entry point other chapters use: it chunks the frozen Python
docs and returns a :class:`BookSearch` whose ``search(query, k)`` gives
:class:`Hit` objects with the text, the score and the source span.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from genai_foundations.retrieval.bm25 import BM25, tokenize
from genai_foundations.retrieval.chunking import Chunk, chunk_corpus
from genai_foundations.retrieval.fusion import reciprocal_rank_fusion
from genai_foundations.retrieval.rerank import pair_features
from genai_foundations.retrieval.vector_index import build_index, index_search

METHODS = ("bm25", "dense", "hybrid", "hybrid + reranker")


@dataclass(frozen=True)
class Hit:
    """One search result: the chunk's ``text``, its ``score`` under the method used, its span and topic."""

    text: str
    score: float
    start: int
    end: int
    topic: str
    chunk: int

    @property
    def span(self) -> tuple[int, int]:
        return (self.start, self.end)


class ChunkRetriever:
    """BM25 and (with an ``encoder``) dense indices over ``chunks``; :meth:`rank` ranks chunk indices.

    ``depth`` is how many chunks each list contributes to the fusion (and how
    many fused candidates the reranker reorders).
    """

    def __init__(self, chunks: Sequence[Chunk], encoder=None, *, index_kind: str = "flat", depth: int = 20):
        if not chunks:
            raise ValueError("a retriever needs at least one chunk")
        self.chunks, self.encoder, self.depth = list(chunks), encoder, depth
        self.tokens = [tokenize(c.text) for c in self.chunks]
        self.bm25 = BM25(self.tokens)
        self.idf = {term: float(self.bm25.idf[j]) for term, j in self.bm25.vocabulary.items()}
        self.mean_length = float(np.mean([len(t) for t in self.tokens])) or 1.0
        self.vectors = self.index = None
        if encoder is not None:
            self.vectors = encoder.encode([c.text for c in self.chunks]).float().cpu()
            self.index = build_index(self.vectors, index_kind)

    def _need_encoder(self, method: str) -> None:
        if self.encoder is None:
            raise ValueError(f"method {method!r} needs a dense encoder; build the retriever with encoder=...")

    def bm25_scores(self, query: str) -> np.ndarray:
        return self.bm25.scores(tokenize(query))

    def dense_scores(self, query: str) -> np.ndarray:
        """Cosines e(q) · e(c) of the query with every chunk (exact)."""
        self._need_encoder("dense")
        return (self.vectors @ self.encoder.encode([query]).float().cpu()[0]).numpy()

    @staticmethod
    def _order(scores: np.ndarray, k: int) -> list[int]:
        k = min(k, len(scores))
        return np.lexsort((np.arange(len(scores)), -scores))[:k].tolist()

    def rank(self, query: str, method: str = "bm25", k: int = 10, reranker=None) -> list[tuple[int, float]]:
        """The best ``k`` chunks for ``query`` by ``method``: ``[(chunk index, score), ...]``, best first."""
        return self.rank_all(query, k, reranker, methods=(method,))[method]

    def rank_all(self, query: str, k: int = 10, reranker=None, methods: Sequence[str] = METHODS
                 ) -> dict[str, list[tuple[int, float]]]:
        """Rankings of one query by several methods, sharing the BM25 and dense scores."""
        unknown = set(methods) - set(METHODS)
        if unknown:
            raise ValueError(f"unknown method(s) {sorted(unknown)}; expected some of {METHODS}")
        if "hybrid + reranker" in methods and reranker is None:
            raise ValueError("'hybrid + reranker' needs a trained reranker")
        out: dict[str, list[tuple[int, float]]] = {}
        b = self.bm25_scores(query)
        b_order = self._order(b, max(k, self.depth))
        out["bm25"] = [(i, float(b[i])) for i in b_order[:k]]
        if set(methods) == {"bm25"}:
            return out
        d = self.dense_scores(query)
        d_order = self._order(d, max(k, self.depth))
        out["dense"] = [(i, float(d[i])) for i in d_order[:k]]
        fused = reciprocal_rank_fusion([b_order[:self.depth], d_order[:self.depth]])
        out["hybrid"] = [(int(i), s) for i, s in fused[:k]]
        if "hybrid + reranker" in methods:
            candidates = [int(i) for i, _ in fused]
            features = self.features(query, candidates, b, d)
            with torch.no_grad():
                scores = reranker(features.to(reranker.mean.device)).cpu().tolist()
            order = sorted(range(len(candidates)), key=lambda j: -scores[j])
            out["hybrid + reranker"] = [(candidates[j], float(scores[j])) for j in order[:k]]
        return {m: out[m] for m in methods}

    def features(self, query: str, candidates: Sequence[int], bm25_scores: np.ndarray | None = None,
                 cosines: np.ndarray | None = None) -> torch.Tensor:
        """The reranker's features (:func:`~genai_foundations.retrieval.rerank.pair_features`) of the candidates."""
        b = self.bm25_scores(query) if bm25_scores is None else bm25_scores
        d = self.dense_scores(query) if cosines is None else cosines
        rank_b = np.empty(len(b), dtype=np.int64)
        rank_b[np.lexsort((np.arange(len(b)), -b))] = np.arange(1, len(b) + 1)
        rank_d = np.empty(len(d), dtype=np.int64)
        rank_d[np.lexsort((np.arange(len(d)), -d))] = np.arange(1, len(d) + 1)
        return pair_features(tokenize(query), [self.tokens[i] for i in candidates], [float(b[i]) for i in candidates],
                             [float(d[i]) for i in candidates], [int(rank_b[i]) for i in candidates],
                             [int(rank_d[i]) for i in candidates], self.idf, self.mean_length)

    def hits(self, ranking: Sequence[tuple[int, float]]) -> list[Hit]:
        return [Hit(self.chunks[i].text, s, self.chunks[i].start, self.chunks[i].end, self.chunks[i].topic, i)
                for i, s in ranking]


class BookSearch:
    """Search over the frozen Python docs: ``search(query, k) -> list[Hit]`` (see :func:`build_book_search`)."""

    def __init__(self, retriever: ChunkRetriever, method: str, reranker=None):
        self.retriever, self.method, self.reranker = retriever, method, reranker

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """The ``k`` best chunks for ``query``, best first; ``query`` must contain a word."""
        if not isinstance(query, str) or not query.strip():
            raise ValueError("query must be a non-empty string")
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        return self.retriever.hits(self.retriever.rank(query, self.method, k, self.reranker))

    def __repr__(self) -> str:
        return f"BookSearch(method={self.method!r}, chunks={len(self.retriever.chunks)})"


def build_book_search(strategy: str = "recursive", max_chars: int = 600, overlap: int = 100, *, encoder=None,
                      reranker=None) -> BookSearch:
    """Chunk the frozen Python docs and index them; BM25 alone unless a trained ``encoder`` is given.

    With ``encoder`` (a :class:`~genai_foundations.retrieval.dense.HashingEncoder`)
    the search is hybrid (RRF of BM25 and dense), and with a ``reranker`` as
    well, hybrid + reranker. BM25 alone builds in well under a second.
    """
    from genai_foundations.data.python_docs import load_python_docs, python_docs_topics

    chunks = chunk_corpus(load_python_docs(), python_docs_topics(), strategy, max_chars, overlap)
    retriever = ChunkRetriever(chunks, encoder)
    method = "bm25" if encoder is None else ("hybrid" if reranker is None else "hybrid + reranker")
    return BookSearch(retriever, method, reranker)
