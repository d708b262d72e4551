"""Exercise 10 (losses): the shortcuts each graded task forbids.

The hidden tests live in ``solutions/losses/losses.ipynb`` and use
:func:`genai_grading.checks.check_function`; they also differentiate the
answers of tasks 1 to 4 with autograd (through the sandbox bridge), which is
what stops the shortcuts no guard can see: SciPy and NumPy return numbers
without a gradient, and the naive ``clamp``/``abs`` form of the binary
cross-entropy has the gradient ``-y`` instead of ``1/2 - y`` at ``z = 0``.
The package's references, and its helpers that would do a task
(``losses._log_softmax``, ``losses.softplus``, ``losses._xlogy``,
``losses.wasserstein1_plan``, the ``classification_metrics`` functions, ...),
are imported by the hidden tests and are therefore absent from the sandbox.

``FORBIDDEN`` maps each test cell's ``grade_id`` to the library functions
that would do the task. The runtime guard matches the last component of each
name (``torch._C._special.special_logsumexp`` is how ``torch.special.logsumexp``
reaches the dispatcher, ``torch._C._nn.cross_entropy_loss`` what
``torch.ops.aten.cross_entropy_loss`` is called), and it does not see inside a
torch function it has let through (``F.multilabel_soft_margin_loss``, not the
``logsigmoid`` inside it), so every such outer name is listed. The scan of the
student's cells matches the spellings. What remains possible (scikit-learn for
task 5, which neither the guard nor the scan sees; a module reached through
``importlib``) is said in the exercise's shortcut list,
``tests/grading/shortcuts/losses.py``.
"""

from __future__ import annotations

# a stable log-sum-exp, softmax or log-softmax: what task 1 asks to write
LOG_SUM_EXP = (
    "torch.logsumexp", "Tensor.logsumexp", "torch.special.logsumexp", "torch._C._special.special_logsumexp",
    "torch.softmax", "Tensor.softmax", "torch.nn.functional.softmax", "torch._softmax", "torch.nn.Softmax",
    "torch._C._special.special_softmax",
    "torch.log_softmax", "Tensor.log_softmax", "torch.nn.functional.log_softmax", "torch._log_softmax",
    "torch.nn.LogSoftmax", "torch.special.log_softmax", "torch._C._special.special_log_softmax",
    "torch.nn.functional.softmin", "torch.nn.Softmin",
)
CROSS_ENTROPY = (
    "torch.nn.functional.cross_entropy", "torch.nn.CrossEntropyLoss", "torch._C._nn.cross_entropy_loss",
    "torch.nn.functional.nll_loss", "torch.nn.NLLLoss", "torch._C._nn.nll_loss", "torch._C._nn.nll_loss_nd",
    # Categorical(logits=z).log_prob(y) and Bernoulli(logits=z).log_prob(y) are these losses (the guard also sees
    # the logsumexp / binary_cross_entropy_with_logits they call)
    "torch.distributions",
)
# log(1 + e^z) and the binary cross-entropy: what task 2 asks to write
SOFTPLUS = (
    "torch.nn.functional.binary_cross_entropy_with_logits", "torch.binary_cross_entropy_with_logits",
    "torch.nn.BCEWithLogitsLoss", "torch.nn.functional.binary_cross_entropy", "torch._C._nn.binary_cross_entropy",
    "torch.nn.BCELoss", "torch.nn.functional.softplus", "torch._C._nn.softplus", "torch.nn.Softplus",
    "torch.logaddexp", "Tensor.logaddexp", "torch.logaddexp2", "Tensor.logaddexp2",
    "torch.nn.functional.logsigmoid", "torch._C._nn.log_sigmoid", "torch.nn.LogSigmoid",
    # log(1 + e^{-y z}) for y = +-1: the binary cross-entropy of one target, and its mean over labels
    "torch.nn.functional.soft_margin_loss", "torch._C._nn.soft_margin_loss", "torch.nn.SoftMarginLoss",
    "torch.nn.functional.multilabel_soft_margin_loss", "torch.nn.MultiLabelSoftMarginLoss",
)
# x log y with 0 log 0 = 0, and ready-made divergences: what task 3 asks to write
DIVERGENCES = (
    "torch.xlogy", "Tensor.xlogy", "torch.special.xlogy", "torch._C._special.special_xlogy",
    "torch.special.xlog1py", "torch._C._special.special_xlog1py",
    "torch.special.entr", "torch._C._special.special_entr",
    "torch.nn.functional.kl_div", "torch.kl_div", "torch.nn.KLDivLoss",
    "torch.distributions.kl_divergence", "torch.distributions.Categorical",
    "scipy.stats.entropy", "scipy.special.rel_entr", "scipy.special.kl_div", "scipy.special.entr",
    "scipy.special.xlogy",
)
# W1 in one dimension (the hidden tests differentiate the answer, which SciPy cannot give)
EARTH_MOVER = ("scipy.stats.wasserstein_distance",)
# the confusion-matrix metrics (scikit-learn is named for the scan; see the module docstring)
METRICS = (
    "sklearn.metrics.accuracy_score", "sklearn.metrics.precision_score", "sklearn.metrics.recall_score",
    "sklearn.metrics.f1_score", "sklearn.metrics.fbeta_score", "sklearn.metrics.precision_recall_fscore_support",
    "sklearn.metrics.confusion_matrix", "sklearn.metrics.classification_report",
)

FORBIDDEN = {
    "test_cross_entropy_from_logits": list(LOG_SUM_EXP + CROSS_ENTROPY),
    # a two-class cross-entropy or a log-sum-exp of (0, z) is the binary one in disguise
    "test_binary_cross_entropy_with_logits": list(SOFTPLUS + LOG_SUM_EXP + CROSS_ENTROPY),
    # H(p, q) from a cross-entropy with probability targets, minus an entropy, is KL too
    "test_kl_divergence": list(DIVERGENCES + CROSS_ENTROPY),  # CROSS_ENTROPY brings torch.distributions
    "test_wasserstein1_histograms": list(EARTH_MOVER),
    "test_binary_metrics": list(METRICS),
}
