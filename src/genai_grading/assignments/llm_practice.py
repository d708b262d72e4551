"""Exercise 22 (llm-practice): the shortcuts each test cell forbids, and package helpers absent from the sandbox.

The hidden tests are in ``solutions/llm-practice/llm-practice.ipynb`` (``check_function`` against the package's
``retrieval`` modules). The functions they import are absent from the sandbox: ``metrics.precision_at_k``,
``recall_at_k``, ``reciprocal_rank`` and ``evaluate``; ``chunking.fixed_size_spans``, ``fixed_size_chunks`` and
``chunk_corpus``; ``fusion.reciprocal_rank_fusion``; ``bm25.term_score`` and the ``BM25`` index. The helpers
below would also do a task in one call, so they are absent too.

Forbidden library calls, matched by the runtime guard by their last name component and spelled out for the
scan of the submitted code:

* task 1 (Precision@K / Recall@K): ``sklearn.metrics``' ``precision_score``, ``recall_score``,
  ``top_k_accuracy_score`` and ``precision_recall_fscore_support`` (they do not compute a ranked list's P@K,
  but a student may try to bend them to it);
* task 2 (fixed-size chunks): ``Tensor.unfold`` / ``torch.unfold`` and NumPy's ``sliding_window_view``, which
  produce the windows in one call (``range`` with a step is the tool of the task);
* task 3 (reciprocal-rank fusion): no library computes it; the package's reference is absent;
* task 4 (BM25 term score): the ``rank_bm25`` package (``BM25Okapi``, ``BM25L``, ``BM25Plus``, ``BM25``),
  whose scores would otherwise be reverse-engineered into the term score; tensor arithmetic stays allowed;
* task 5 (the assembled search): nothing beyond the tasks' own lists; it calls the student's functions.

What this cannot stop: a student who copies the package's source text into a cell (the similarity report
flags it), or who reaches ``rank_bm25`` through a name the scan cannot follow.
"""

BLOCKED = [
    "genai_foundations.retrieval.metrics.span_recall_at_k",
    "genai_foundations.retrieval.metrics.relevant_chunks",
    "genai_foundations.retrieval.chunking.sentence_chunk_spans",
    "genai_foundations.retrieval.chunking.recursive_chunk_spans",
    "genai_foundations.retrieval.chunking._windows",
]

SKLEARN = ("sklearn.metrics.precision_score", "sklearn.metrics.recall_score", "sklearn.metrics.top_k_accuracy_score",
           "sklearn.metrics.precision_recall_fscore_support")
RANK_BM25 = ("rank_bm25.BM25Okapi", "rank_bm25.BM25L", "rank_bm25.BM25Plus", "rank_bm25.BM25")

FORBIDDEN = {
    "test_precision_recall_at_k": [*SKLEARN],
    "test_fixed_size_spans": ["Tensor.unfold", "torch.unfold", "numpy.lib.stride_tricks.sliding_window_view"],
    "test_reciprocal_rank_fusion": [],
    "test_bm25_term_score": [*RANK_BM25],
    "test_hybrid_search": [*SKLEARN, *RANK_BM25, "Tensor.unfold", "torch.unfold"],
}
