"""The chapter's retrieval benchmark: every method on every chunking strategy, scored on character spans.

:func:`run_benchmark` chunks the original corpus with each strategy, reads
the chunks from the corpus with the query sentences blanked
(:func:`~genai_foundations.retrieval.chunking.with_text`), trains one
reranker per strategy on its own held-out sentences (from the reranker's
topics, never the benchmark's), and returns Recall@1/5/10 and MRR for
:data:`~genai_foundations.retrieval.search.METHODS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch

from genai_foundations.retrieval.chunking import STRATEGIES, chunk_corpus, with_text
from genai_foundations.retrieval.metrics import evaluate, relevant_chunks
from genai_foundations.retrieval.queries import Query, blank_spans
from genai_foundations.retrieval.rerank import fit_reranker
from genai_foundations.retrieval.search import METHODS, ChunkRetriever


@dataclass
class BenchmarkResult:
    """``table[strategy][method]`` = {"R@1", "R@5", "R@10", "MRR"}; ``rankings`` and ``relevant`` per strategy."""

    table: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    rankings: dict[str, dict[str, list[list[int]]]] = field(default_factory=dict)
    relevant: dict[str, list[set]] = field(default_factory=dict)
    n_chunks: dict[str, int] = field(default_factory=dict)
    rerankers: dict[str, torch.nn.Module] = field(default_factory=dict)


def masked_retriever(text: str, topics: Sequence, queries: Sequence[Query], strategy: str, encoder, max_chars: int,
                     overlap: int) -> ChunkRetriever:
    """Chunks of the original ``text``, read from the text with the queries' sentences blanked, indexed."""
    masked = blank_spans(text, [q.span for q in queries])
    return ChunkRetriever(with_text(chunk_corpus(text, topics, strategy, max_chars, overlap), masked), encoder)


def train_reranker(retriever: ChunkRetriever, queries: Sequence[Query], steps: int = 300, seed: int = 0):
    """Fit the reranker on the hybrid candidates of ``queries`` (their relevant chunks as the targets)."""
    features, relevant = [], []
    for q in queries:
        candidates = [i for i, _ in retriever.rank(q.text, "hybrid", k=retriever.depth * 2)]
        rel = relevant_chunks(retriever.chunks, q.span)
        features.append(retriever.features(q.text, candidates))
        relevant.append(torch.tensor([c in rel for c in candidates]))
    return fit_reranker(features, relevant, steps=steps, seed=seed)


def run_benchmark(text: str, topics: Sequence, queries: Sequence[Query], reranker_queries: Sequence[Query], encoder,
                  strategies: Sequence[str] = STRATEGIES, max_chars: int = 600, overlap: int = 100, k: int = 10,
                  reranker_steps: int = 300, seed: int = 0) -> BenchmarkResult:
    """The table of the chapter: for each strategy and method, Recall@1/5/10 and MRR over ``queries``."""
    result = BenchmarkResult()
    for strategy in strategies:
        train_side = masked_retriever(text, topics, reranker_queries, strategy, encoder, max_chars, overlap)
        reranker, _ = train_reranker(train_side, reranker_queries, reranker_steps, seed)
        retriever = masked_retriever(text, topics, queries, strategy, encoder, max_chars, overlap)
        rankings: dict[str, list[list[int]]] = {m: [] for m in METHODS}
        for q in queries:
            for method, ranked in retriever.rank_all(q.text, k, reranker).items():
                rankings[method].append([i for i, _ in ranked])
        relevant = [relevant_chunks(retriever.chunks, q.span) for q in queries]
        result.table[strategy] = {m: evaluate(rankings[m], relevant, (1, 5, 10)) for m in METHODS}
        result.rankings[strategy], result.relevant[strategy] = rankings, relevant
        result.n_chunks[strategy], result.rerankers[strategy] = len(retriever.chunks), reranker
    return result
