"""Shortcut answers for exercise 7 (autoregressive): each passes the hidden tests outside the sandbox."""

SHORTCUTS = {
    # the package's MADE builds the masks: read them off a model with the same degrees
    "made_masks": (
        "from genai_foundations.architectures import made as _made\n"
        "def made_masks(degrees):\n"
        "    return _made.made_masks(degrees)"),
    # the library's log-softmax through the dispatcher, under a computed name
    "sequence_log_likelihood": (
        "def sequence_log_likelihood(logits, targets):\n"
        "    lp = getattr(torch.ops.aten, '_log_' + 'softmax')(logits, -1, False)\n"
        "    return lp.gather(-1, targets.unsqueeze(-1)).squeeze(-1).sum(-1)"),
    # the package's n-gram classes (order 2, add-k), one row per context
    "bigram_probabilities": (
        "from genai_foundations.algorithms.ngram import NGramCounts, NGramModel\n"
        "def bigram_probabilities(ids, vocab_size, k):\n"
        "    model = NGramModel(NGramCounts(ids, vocab_size, 2), 2, 'add-k', k=k)\n"
        "    return torch.stack([model.prob_vector([i]) for i in range(vocab_size)])"),
    # the package's sampling loop, unwrapped
    "sample_tokens": (
        "import inspect\n"
        "from genai_foundations.algorithms import chain_rule as _cr\n"
        "def sample_tokens(model, prompt, n_new, uniforms, temperature=1.0, context=None):\n"
        "    return inspect.unwrap(_cr.sample_tokens)(model, prompt, n_new, uniforms, temperature=temperature,\n"
        "                                             context=context)"),
}
EXPECTED_ZERO = ["test_made_masks", "test_sequence_log_likelihood", "test_bigram_probabilities", "test_sample_tokens"]
