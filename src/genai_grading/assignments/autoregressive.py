"""Exercise 7 (autoregressive): the shortcuts each graded test cell forbids, and package helpers absent from the sandbox.

The hidden tests are in ``solutions/autoregressive/autoregressive.ipynb``. The references they import
(``made.made_masks``, ``chain_rule.sequence_log_likelihood``, ``ngram.bigram_probabilities``,
``chain_rule.sample_tokens``) are absent from the sandbox, and so are the helpers that would do a task in one
call, which the hidden parts import for that purpose: MADE's ``input_degrees`` / ``hidden_degrees`` (without them
the ``MADE`` class cannot be built, so its masks cannot be read off a model), ``chain_rule.token_log_probs`` /
``model_log_likelihood``, the package's own log-softmax and cross-entropy functions
(``activations.log_softmax``, ``losses._log_softmax``, ``losses.cross_entropy_from_logits``,
``pixelcnn.pixel_nll``), the n-gram module's ``_codes`` / ``_lookup`` (without them ``NGramCounts`` and
``NGramModel`` stop working) and ``unigram_model``, and the sampling helpers ``chain_rule.inverse_cdf_sample``,
``chain_rule.sample_text`` and ``decoding.generate``.

Task 2 asks for the log-sum-exp trick, so the library's log-softmax, log-sum-exp and cross-entropy entry points
are refused (matched by their last name component, whatever alias reaches them: ``torch._VF``,
``torch.ops.aten``, ``torch.special``, ``Tensor`` methods). ``torch.softmax`` stays allowed: taking its log fails
the tests with large logits by itself. Tasks 1, 3 and 4 need only comparisons, counting, ``softmax``,
``cumsum`` and indexing, which stay allowed.
"""

LOG_SOFTMAX = (
    "torch.log_softmax", "torch._log_softmax", "torch.nn.functional.log_softmax", "torch.special.log_softmax",
    "Tensor.log_softmax", "torch.nn.LogSoftmax",
    "torch.logsumexp", "Tensor.logsumexp", "torch.special.logsumexp",
    "torch.nn.functional.cross_entropy", "torch.nn.functional.nll_loss", "torch.nll_loss", "torch.nll_loss_nd",
    "torch.nll_loss2d", "torch.cross_entropy_loss", "torch.nn.CrossEntropyLoss", "torch.nn.NLLLoss",
    "torch.distributions.Categorical", "torch.distributions.OneHotCategorical",
)

FORBIDDEN = {
    "test_made_masks": [],
    "test_sequence_log_likelihood": list(LOG_SOFTMAX),
    "test_bigram_probabilities": [],
    "test_sample_tokens": [],
}
