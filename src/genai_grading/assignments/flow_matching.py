"""Exercise 2 (flow-matching): the library shortcuts each graded test cell forbids.

The hidden tests stay in ``solutions/flow-matching/flow-matching.ipynb``
(written with ``check_function``). Besides the references
(``linear_path_sample``, ``cfm_loss``, and ``flow_matching.sample`` /
``solvers.heun_ode``, which compute the expected samples), they import every
package helper that would do a task, so that all of them are absent from the
student's sandbox: ``flow_matching.training_pair``, ``euler_sample``,
``guided_field``, ``model_field``, ``sample``; ``gaussian_paths.sample_conditional``
and ``broadcast_time``; ``solvers.euler_ode``, ``heun_ode``, ``midpoint_ode``;
``ddpm.cfg_combine``; ``score_matching.guided_score``.

This module names, per test cell, the library entry points that would do the
task in one call. The runtime guard matches the last component of each name
(``torch.lerp``, ``Tensor.lerp``, ``torch.ops.aten.lerp`` and
``torch._VF``-style aliases are all ``lerp``; ``nn.MSELoss`` and
``F.mse_loss`` both reach ``mse_loss``) when the student's own code calls it;
the scan of the submitted code catches the spellings.

What stays allowed: element-wise arithmetic, ``torch.mean``, ``torch.full``,
``reshape``/``view``, ``torch.as_tensor`` and Python loops. The hidden tests
hand the student's samplers the package's exact fields (``MixtureField``,
``gaussian_to_gaussian_field``, pickled by value, so their frames count as the
student's): none of them calls a forbidden name.

Not stoppable from here (reported): ``diffusers``' flow-matching schedulers run
in library frames, which the guard exempts, and the scan does not know
``diffusers``. ``FlowMatchEulerDiscreteScheduler(shift=1.0)`` with
``set_timesteps(sigmas=[1 - k / n for k in range(n)])``, fed the negated
field at ``t = 1 - sigma``, reproduces the Euler loop of task 3 to about 1e-7
(checked), so a student who writes the guidance mix and the time conversion
can let it take the steps. Writing that is more work than the loop itself.
(``FlowMatchHeunDiscreteScheduler`` uses its own time grid; not pursued.)
"""

from __future__ import annotations

# The interpolation x_t = t z + (1 - t) eps in one call.
LERP = ("torch.lerp", "Tensor.lerp", "Tensor.lerp_")
# The mean squared error in one call (nn.MSELoss and F.mse_loss reach mse_loss); a Huber or smooth-L1 loss with a
# huge threshold is half of it.
MSE = ("torch.nn.functional.mse_loss", "torch.nn.MSELoss", "torch._C._nn.mse_loss",
       "torch.nn.functional.huber_loss", "torch.nn.HuberLoss", "torch.nn.functional.smooth_l1_loss",
       "torch.nn.SmoothL1Loss")
# Ready-made ODE solvers (the scan sees the spelling ``scipy.integrate.solve_ivp``; torchdiffeq is not installed).
SOLVERS = ("scipy.integrate.solve_ivp", "scipy.integrate.odeint", "scipy.integrate.RK23")

FORBIDDEN = {
    "test_linear_path_sample": list(LERP),
    "test_cfm_loss": list(LERP + MSE),
    "test_guided_euler_sample": list(LERP + SOLVERS),
    "test_heun_sample": list(SOLVERS),
}
