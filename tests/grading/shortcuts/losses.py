"""Shortcut answers for exercise 10 (losses): each would pass a naive grader.

One submission carries all of them (tests/test_exercises.py); every task must
score 0. Other shortcuts tried by hand against the real grader (sandbox,
guard, scan), all scoring 0 on their task: ``F.cross_entropy``,
``nn.CrossEntropyLoss``, ``F.nll_loss(F.log_softmax(...))``,
``torch.logsumexp(z, 1) - z.gather(...)``, ``torch.ops.aten.cross_entropy_loss``,
``torch._C._nn.cross_entropy_loss``, the package's ``losses._log_softmax``,
the logarithm of a (stable) softmax (infinite at a float32 logit gap of
120); ``F.binary_cross_entropy_with_logits``, ``nn.BCEWithLogitsLoss``,
``F.softplus(z) - y z``, ``torch.logaddexp(0, z) - y z``, ``-F.logsigmoid``,
the package's ``losses.softplus``, ``log(sigmoid)``; ``torch.xlogy``,
``torch.distributions.kl_divergence(Categorical(...), ...)``,
``scipy.stats.entropy`` (no gradient), ``F.kl_div``, the package's
``losses.cross_entropy - losses.entropy``; ``scipy.stats.wasserstein_distance``
with detached inputs (no gradient), the package's ``wasserstein1_plan``; the
package's ``classification_metrics`` helpers.

Not stopped: task 5 written with ``sklearn.metrics`` (``accuracy_score``,
``precision_score(..., zero_division=0)``, ...). scikit-learn converts the
tensors from its own frames (the guard only refuses calls made by the
student's code) and the scan knows the roots torch/numpy/scipy only, and the
metrics have no gradient to check. It is left out of ``SHORTCUTS``.
"""

SHORTCUTS = {
    # a dynamic look-up of torch.logsumexp (the scan flags getattr on a module; the guard refuses logsumexp)
    "cross_entropy_from_logits": (
        "def cross_entropy_from_logits(logits, targets):\n"
        "    lse = getattr(torch, 'log' + 'sumexp')(logits, 1)\n"
        "    return (lse - logits.gather(1, targets.unsqueeze(1)).squeeze(1)).mean()"),
    # the naive "stable" formula with clamp and abs: right values, gradient -y instead of 1/2 - y at z = 0
    "binary_cross_entropy_with_logits": (
        "def binary_cross_entropy_with_logits(logits, targets):\n"
        "    losses = logits.clamp(min=0) - targets * logits + torch.log1p(torch.exp(-logits.abs()))\n"
        "    return losses.mean()"),
    # torch.special.xlogy has the 0 log 0 = 0 convention built in
    "kl_divergence": (
        "def kl_divergence(p, q):\n"
        "    return (torch.special.xlogy(p, p) - torch.special.xlogy(p, q)).sum(dim=-1)"),
    # SciPy, imported by a name the scan does not know; its result carries no gradient
    "wasserstein1_histograms": (
        "from scipy.stats import wasserstein_distance as _emd\n"
        "def wasserstein1_histograms(p, q, grid):\n"
        "    g = grid.detach().numpy()\n"
        "    return torch.tensor(_emd(g, g, p.detach().numpy(), q.detach().numpy()), dtype=p.dtype)"),
    # the package's helpers, unwrapped: absent from the sandbox
    "binary_metrics": (
        "import inspect\n"
        "from genai_foundations.evaluation import classification_metrics as _cm\n"
        "def binary_metrics(y_true, y_pred):\n"
        "    return {'accuracy': _cm.accuracy(y_true, y_pred), 'precision': _cm.precision(y_true, y_pred),\n"
        "            'recall': _cm.recall(y_true, y_pred), 'specificity': _cm.specificity(y_true, y_pred),\n"
        "            'f1': inspect.unwrap(_cm.f1_score)(y_true, y_pred)}"),
}
EXPECTED_ZERO = ["test_cross_entropy_from_logits", "test_binary_cross_entropy_with_logits", "test_kl_divergence",
                 "test_wasserstein1_histograms", "test_binary_metrics"]
