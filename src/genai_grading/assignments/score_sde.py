"""Exercise 3 (score-sde): what each graded task forbids.

The hidden tests are written in ``solutions/score-sde/score-sde.ipynb`` with
:func:`genai_grading.checks.check_function`; this module only names the
library functions that would do a task for the student. The package helpers
that would (the reference functions and their near twins) are made absent
from the sandbox by importing them in the hidden tests, where
:func:`genai_grading.execute.hidden_test_references` finds them:

* task 1, ``euler_maruyama_step``: the reference, and ``solvers.euler_ode``,
  ``heun_ode``, ``midpoint_ode`` (one step with the noise folded into a
  constant drift), ``solvers.euler_maruyama`` and ``langevin`` (with
  ``runtime.randn`` patched to return the given noise), and the appendix's
  ``ou_euler_maruyama``;
* task 2, ``mixture_score``: the reference, and the private helpers behind
  ``GaussianMixture.log_prob``/``score``/``path_score``
  (``score_matching._component_terms``), the flow-matching mixture densities
  and fields (``flow_matching._mixture_terms``) and the appendix's 1-D
  mixtures (``differential_equations._log_joint``);
* task 3, ``dsm_loss``: the reference and ``noise_prediction_loss`` (with a
  model wrapped to return ``-beta_t s``);
* task 4, ``score_to_vector_field``: the reference, its inverse
  ``vector_field_to_score`` and ``conditional_vector_field`` (which gives the
  field from the denoised mean ``(x + beta^2 s) / alpha``);
* task 5, ``denoising_sde_sample``: ``reverse_sde_sample`` (with
  ``runtime.randn`` patched) and everything above.

What the runtime guard and the source scan refuse on top (best effort, see
:mod:`genai_grading.guard` and :mod:`genai_grading.scan`) is automatic
differentiation in task 2: the score is the gradient of the log-density,
which ``torch.distributions`` or a ``logsumexp`` gives in one line.
Finite differences of a hand-written log-density cannot be told from the
analytic score and remain possible; they need the same log-terms as the
intended answer.
"""

from __future__ import annotations

AUTOGRAD = (
    "torch.autograd.grad", "torch.autograd.backward", "Tensor.backward",
    "torch.autograd.functional.jacobian", "torch.autograd.functional.vjp", "torch.autograd.functional.jvp",
    "torch.autograd.functional.vhp", "torch.autograd.functional.hessian",
    "torch.func.grad", "torch.func.grad_and_value", "torch.func.vjp", "torch.func.jvp", "torch.func.jacrev",
    "torch.func.jacfwd", "torch.func.hessian",
    "torch.autograd.forward_ad.make_dual", "torch._make_dual", "torch.autograd.forward_ad.unpack_dual",
    # the C++ engine behind backward(), reached without the Python wrappers
    "Tensor.run_backward", "Tensor._execution_engine",
)

FORBIDDEN = {
    "test_euler_maruyama_step": [],      # the package's solvers are absent from the sandbox
    "test_mixture_score": list(AUTOGRAD),
    "test_dsm_loss": [],                 # the package's losses are absent from the sandbox
    "test_score_to_vector_field": [],    # the package's conversions are absent from the sandbox
    "test_denoising_sde_sample": [],     # the package's samplers and solvers are absent from the sandbox
}
