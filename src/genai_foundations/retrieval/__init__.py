"""Retrieval for chapter 22 (LLMs in practice): chunking, BM25, a trained dense encoder, a faiss index,
reciprocal-rank fusion, a reranker, retrieval metrics, the benchmark's queries and grounded prompts.

The entry point other chapters use (chapter 23 serves it as a tool)::

    from genai_foundations.retrieval import build_book_search
    search = build_book_search()                  # BM25 over the frozen Python docs, well under a second
    for hit in search.search("what does __exit__ return", k=3):
        print(hit.score, hit.topic, hit.span, hit.text[:80])

Modules: :mod:`~.chunking`, :mod:`~.bm25`, :mod:`~.dense`, :mod:`~.vector_index`, :mod:`~.fusion`,
:mod:`~.rerank`, :mod:`~.metrics`, :mod:`~.queries`, :mod:`~.prompting`, :mod:`~.search`.
"""

from genai_foundations.retrieval.search import BookSearch, ChunkRetriever, Hit, build_book_search

__all__ = ["BookSearch", "ChunkRetriever", "Hit", "build_book_search"]
