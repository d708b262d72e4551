"""Exercise 1 (flows): the library shortcuts each graded test cell forbids.

The hidden tests stay in ``solutions/flows/flows.ipynb`` (written with
``check_function``). They import the package's ``affine_coupling_forward``,
``affine_coupling_inverse``, ``flow_nll`` and ``mog_cdf_flow`` (the
references) and ``jacobian_logdet``, so these are absent from the student's
sandbox; the package's layers (``AffineCoupling``, ``MoGCDFFlow1D``) call the
references and therefore raise there too.

This module names, per test cell, the library entry points that would do the
task (or its hard part) in one call. The runtime guard matches the last
component of each name when the student's own code calls it, directly or
through a torch class whose Python code calls it (``torch.distributions``
frames count as the student's, so ``Normal(...)`` trips ``broadcast_tensors``
and every validated distribution trips ``_is_all_true``, however the class was
reached); the scan of the submitted code catches the spellings
(``torch.distributions.Normal``, ``D.MixtureSameFamily``, ``from
torch.distributions import ...``, and any ``.log_prob`` / ``.cdf`` /
``.nll`` attribute, which is how the package's ``StandardNormal`` and
``FlowSequence`` would be used).

What stays allowed: element-wise arithmetic, ``torch.exp``, ``torch.log``,
``torch.special.ndtr``, ``torch.erf``, ``torch.logsumexp``, sums, reshapes,
``torch.where`` and ``clamp``. The hidden tests hand the student's
``flow_nll`` the package's flow layers (pickled by value, so their frames
count as the student's): none of them calls a forbidden name (checked: they
use linear/conv2d, exp, log, tanh, triu, einsum, pixel_unshuffle, ...).

Not stoppable from here (reported): ``getattr(flows.StandardNormal(shape),
"log_" + "prob")(h)`` or the same on ``FlowSequence`` (``nll``): package code
runs in package frames, which the guard exempts, and the scan does not see a
computed attribute name on a non-torch object. Blocking them needs the sandbox
stub to block methods or classes named by the hidden tests (today only
functions imported by the hidden tests are blocked), or the package to compute
``StandardNormal.log_prob`` through a module-level function that the hidden
tests import.
"""

from __future__ import annotations

# torch.distributions and the calls its Python code makes on the student's behalf.
DISTRIBUTIONS = (
    "torch.distributions.Normal", "torch.distributions.normal.Normal", "torch.distributions.MultivariateNormal",
    "torch.distributions.LowRankMultivariateNormal", "torch.distributions.Independent",
    "torch.distributions.MixtureSameFamily", "torch.distributions.Categorical", "torch.distributions.LogNormal",
    "torch.distributions.TransformedDistribution", "torch.distributions.Distribution",
    "torch.broadcast_tensors", "torch._is_all_true", "torch.linalg.solve_triangular",
    "torch._C._linalg.linalg_solve_triangular",
    "Tensor.log_prob", "Tensor.cdf", "Tensor.icdf",
)
# Ready-made Gaussian log-likelihoods and flows.
GAUSSIAN_NLL = ("torch.nn.functional.gaussian_nll_loss", "torch.nn.GaussianNLLLoss", "Tensor.nll")
# A log-determinant from the full Jacobian instead of the coupling's triangular structure.
JACOBIAN = (
    "torch.autograd.functional.jacobian", "torch.func.jacrev", "torch.func.jacfwd",
    "torch.linalg.slogdet", "torch.slogdet", "torch.logdet", "torch.det", "torch.linalg.det",
    "torch.distributions.transforms.AffineTransform", "Tensor.log_abs_det_jacobian",
)

FORBIDDEN = {
    "test_affine_coupling_forward": list(JACOBIAN),
    "test_affine_coupling_inverse": list(JACOBIAN),
    "test_flow_nll": list(DISTRIBUTIONS + GAUSSIAN_NLL),
    "test_mog_cdf_flow": list(DISTRIBUTIONS),
}
