"""Exercise 5 (vae): the shortcuts each test cell forbids, and package helpers absent from the sandbox.

The hidden tests are in ``solutions/vae/vae.ipynb``. The references they import (``reparameterize``,
``gaussian_kl``, ``elbo``, ``log_mean_exp`` and the pieces of the importance-weighted bound:
``bernoulli_log_likelihood``, ``gaussian_log_likelihood``, ``decoder_log_likelihood``, ``log_normal_diag``,
``log_standard_normal``, ``importance_log_weights``, ``iwae_bound``) are absent from the sandbox.

``torch.distributions`` does every task in a line or two (``Normal(...).rsample``, ``kl_divergence``,
``Bernoulli(logits=...).log_prob``, ``Normal.log_prob``); its classes are Python code, so the scan of the
submitted cells catches their names (the runtime guard sees only the torch functions they call). The task-3
losses and the task-4 reductions are torch functions: the guard refuses them under any alias. What stays
allowed: element-wise arithmetic, ``torch.exp``/``log``/``log1p``, ``F.softplus`` (the stable way to write
the Bernoulli log-likelihood, which task 3 teaches), sums, means and ``amax``.
"""

from __future__ import annotations

DISTRIBUTIONS = (
    "torch.distributions.Normal", "torch.distributions.normal.Normal", "torch.distributions.Independent",
    "torch.distributions.MultivariateNormal", "torch.distributions.LowRankMultivariateNormal",
    "torch.distributions.Bernoulli", "torch.distributions.bernoulli.Bernoulli", "torch.distributions.ContinuousBernoulli",
    "torch.distributions.Binomial", "torch.distributions.kl_divergence", "torch.distributions.kl.kl_divergence",
    "Tensor.rsample", "Tensor.log_prob", "Tensor.entropy",
)
# library cross-entropies and squared errors (the decoder log-likelihoods of task 3)
LOSSES = (
    "torch.nn.functional.binary_cross_entropy_with_logits", "torch.binary_cross_entropy_with_logits",
    "torch.nn.functional.binary_cross_entropy", "torch.binary_cross_entropy", "torch.nn.BCEWithLogitsLoss",
    "torch.nn.BCELoss", "torch.nn.functional.mse_loss", "torch.mse_loss", "torch.nn.MSELoss",
    "torch.nn.functional.gaussian_nll_loss", "torch.nn.GaussianNLLLoss", "torch.nn.functional.kl_div",
    "torch.kl_div", "torch.nn.KLDivLoss", "torch.nn.functional.logsigmoid", "torch._C._nn.log_sigmoid",
    "torch.nn.LogSigmoid", "torch.special.log_ndtr",
)
# library log-sum-exp reductions and (log-)softmax (task 4's subject)
REDUCTIONS = (
    "torch.logsumexp", "Tensor.logsumexp", "torch.special.logsumexp", "torch.logcumsumexp", "Tensor.logcumsumexp",
    "torch.logaddexp", "Tensor.logaddexp", "torch.logaddexp2", "Tensor.logaddexp2",
    "torch.nn.functional.log_softmax", "torch.log_softmax", "Tensor.log_softmax", "torch._log_softmax",
    "torch.special.log_softmax", "torch.nn.functional.softmax", "torch.softmax", "Tensor.softmax", "torch._softmax",
    "torch.special.softmax", "torch.nn.LogSoftmax", "torch.nn.Softmax",
)
# switches that would turn the runtime guard off (only the scan of the submitted code can see them)
_SWITCHES = {"torch._C": ("DisableTorchFunction", "DisableTorchFunctionSubclass", "_pop_torch_function_stack",
                          "_set_torch_function_state", "_set_skip_next_torch_function", "_skip_one_hop_torch_function"),
             "torch.overrides": ("_pop_mode", "_pop_mode_temporarily")}
GUARD_SWITCHES = tuple(f"{module}.{name}" for module, names in _SWITCHES.items() for name in names) + tuple(
    f"Tensor.{name}" for names in _SWITCHES.values() for name in names)

FORBIDDEN = {
    "test_reparameterize": list(DISTRIBUTIONS + GUARD_SWITCHES),
    "test_gaussian_kl": list(DISTRIBUTIONS + LOSSES + GUARD_SWITCHES),
    "test_elbo": list(DISTRIBUTIONS + LOSSES + GUARD_SWITCHES),
    "test_log_mean_exp": list(REDUCTIONS + GUARD_SWITCHES),
    "test_iwae_bound": list(DISTRIBUTIONS + LOSSES + REDUCTIONS + GUARD_SWITCHES),
}
