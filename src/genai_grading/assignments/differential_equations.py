"""Exercise 20 (differential-equations): what each graded task forbids.

The hidden tests are written in
``solutions/differential-equations/differential-equations.ipynb`` with
:func:`genai_grading.checks.check_function`; this module only names the
library functions that would do a task for the student. The package helpers
that would (the reference functions and their near twins) are made absent
from the sandbox by importing them in the hidden tests, where
:func:`genai_grading.execute.hidden_test_references` finds them:

* task 1, ``ou_mean_var``: the reference;
* task 2, ``ou_euler_maruyama``: the reference, ``score_matching.euler_maruyama_step``
  in a loop, ``solvers.euler_ode``, ``heun_ode``, ``midpoint_ode`` (one step
  per call with the noise folded into a constant drift), and
  ``solvers.euler_maruyama`` and ``langevin`` (with ``runtime.randn`` patched
  to return the given noise);
* task 3, ``denoising_drift``: ``MixtureProbabilityPath.denoising_drift``,
  ``vector_field`` and ``score`` and ``GaussianMixture1D.score`` (through
  ``differential_equations._log_joint``), ``GaussianMixture.score``,
  ``log_prob`` and ``path_score`` (through ``score_matching.mixture_score`` and
  ``_component_terms``), the flow-matching mixture fields
  (``flow_matching._mixture_terms``), ``score_matching.denoising_sde_drift``
  and the conversions ``score_to_vector_field``, ``vector_field_to_score`` and
  ``conditional_vector_field`` of ``gaussian_paths``;
* task 4, ``fokker_planck_residual``: the reference.

What the runtime guard and the source scan refuse on top (best effort, see
:mod:`genai_grading.guard` and :mod:`genai_grading.scan`) is automatic
differentiation in task 3, which would give the score from a log-density
written with ``torch.distributions`` or ``logsumexp``. Finite differences of a
hand-written log-density remain possible; they need the same log-terms as
the intended answer.
"""

from __future__ import annotations

from genai_grading.assignments.score_sde import AUTOGRAD  # the same automatic-differentiation entry points

FORBIDDEN = {
    "test_ou_mean_var": [],                # the package's closed form is absent from the sandbox
    "test_ou_euler_maruyama": [],          # the package's solvers are absent from the sandbox
    "test_denoising_drift": list(AUTOGRAD),
    "test_fokker_planck_residual": [],     # the package's residual is absent from the sandbox
}
