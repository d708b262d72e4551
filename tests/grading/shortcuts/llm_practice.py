"""Shortcut answers for exercise 22 (llm-practice): each passes the hidden tests outside the sandbox."""

SHORTCUTS = {
    # the package's metrics, imported by name
    "precision_recall_at_k": (
        "from genai_foundations.retrieval.metrics import precision_at_k, recall_at_k\n"
        "def precision_recall_at_k(ranked, relevant, k):\n"
        "    return precision_at_k(ranked, relevant, k), recall_at_k(ranked, relevant, k)"),
    # the package's chunker reached through the module, unwrapped
    "fixed_size_spans": (
        "import inspect\nfrom genai_foundations.retrieval import chunking as _chunking\n"
        "def fixed_size_spans(n_chars, size, overlap):\n"
        "    return inspect.unwrap(_chunking.fixed_size_spans)(n_chars, size, overlap)"),
    # the package's fusion through getattr on the module
    "reciprocal_rank_fusion": (
        "import importlib\n_fusion = importlib.import_module('genai_foundations.retrieval.fusion')\n"
        "def reciprocal_rank_fusion(rankings, k=60):\n"
        "    return getattr(_fusion, 'reciprocal_rank' + '_fusion')(rankings, k)"),
    # the package's BM25 term score
    "bm25_term_score": (
        "from genai_foundations.retrieval.bm25 import term_score\n"
        "def bm25_term_score(tf, idf, doc_len, avg_len, k1=1.5, b=0.75):\n"
        "    return term_score(tf, idf, doc_len, avg_len, k1, b)"),
}
EXPECTED_ZERO = ["test_precision_recall_at_k", "test_fixed_size_spans", "test_reciprocal_rank_fusion",
                 "test_bm25_term_score", "test_hybrid_search"]
