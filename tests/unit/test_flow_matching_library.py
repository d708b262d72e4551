"""Our flow-matching paths, loss and ODE solvers agree with Meta's ``flow_matching`` library (the extra ``bench``).

The benchmark ``benchmarks/flow_matching_lib.py`` compares the speed of the two
codes on the chapter's tasks; these tests keep the claim it rests on true:
given the same data, times and noise, both give the same training targets,
the same loss and the same Euler (and midpoint) trajectories.
"""

from __future__ import annotations

import pytest
import torch
from flow_matching.path import AffineProbPath, CondOTProbPath
from flow_matching.path.scheduler import CosineScheduler
from flow_matching.solver import ODESolver
from flow_matching.utils import ModelWrapper

from genai_foundations.algorithms import flow_matching as fm
from genai_foundations.algorithms.gaussian_paths import CosinePath, LinearPath
from genai_foundations.algorithms.solvers import euler_ode, midpoint_ode
from genai_foundations.architectures.mlp import TimeConditionedMLP

PAIRS = [(LinearPath(), CondOTProbPath()), (CosinePath(), AffineProbPath(CosineScheduler()))]


class PerExampleTime(ModelWrapper):
    """The library's solver passes one 0-d time; our networks want one time per example."""

    def forward(self, x: torch.Tensor, t: torch.Tensor, **extras) -> torch.Tensor:
        return self.model(x, t.reshape(1).expand(x.shape[0]))


def _draws(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64), torch.randn(shape, generator=g, dtype=torch.float64), \
        torch.rand(shape[0], generator=g, dtype=torch.float64)


@pytest.mark.parametrize("ours, theirs", PAIRS, ids=["linear", "cosine"])
def test_training_pair_equals_the_library_path_sample(ours, theirs):
    z, eps, t = _draws((7, 1, 3, 3), 0)
    x_t, target = fm.training_pair(ours, z, t, eps)
    sample = theirs.sample(x_0=eps, x_1=z, t=t)          # the library's x_0 is the noise, x_1 the data
    torch.testing.assert_close(x_t, sample.x_t, rtol=0, atol=1e-12)
    torch.testing.assert_close(target, sample.dx_t, rtol=0, atol=1e-12)


def test_the_two_paths_differ_so_the_comparison_can_fail():
    z, eps, t = _draws((5, 2), 1)
    x_lin, _ = fm.training_pair(LinearPath(), z, t, eps)
    assert (x_lin - AffineProbPath(CosineScheduler()).sample(x_0=eps, x_1=z, t=t).x_t).abs().max() > 1e-2


def test_cfm_loss_equals_the_library_recipe_on_the_same_draws():
    torch.manual_seed(0)
    net = TimeConditionedMLP(dim=2, hidden=16, depth=2, time_dim=8)
    z = torch.randn(32, 2)
    ours = fm.cfm_loss(net, z, generator=torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)              # cfm_loss draws t first, then the noise
    t, eps = torch.rand(32, generator=g), torch.randn(32, 2, generator=g)
    sample = CondOTProbPath().sample(x_0=eps, x_1=z, t=t)
    theirs = torch.mean((net(sample.x_t, sample.t) - sample.dx_t) ** 2)
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=0)


@pytest.mark.parametrize("method, solver", [("euler", euler_ode), ("midpoint", midpoint_ode)])
def test_our_solvers_follow_the_library_ode_solver(method, solver):
    torch.manual_seed(1)
    net = TimeConditionedMLP(dim=2, hidden=16, depth=2, time_dim=8).double().eval()
    x0 = torch.randn(64, 2, dtype=torch.float64)
    steps = 12
    grid = torch.linspace(0, 1, steps + 1, dtype=torch.float64)
    theirs = ODESolver(velocity_model=PerExampleTime(net)).sample(x_init=x0, step_size=None, method=method,
                                                                   time_grid=grid)
    ours = fm.sample(net, x0=x0, steps=steps, method=method)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-10)
    torch.testing.assert_close(solver(fm.model_field(net), x0, 0.0, 1.0, steps), theirs, rtol=0, atol=1e-10)
    # one step fewer is a different trajectory: the agreement is not an accident of a flat field
    assert (fm.sample(net, x0=x0, steps=steps - 1, method=method) - theirs).abs().max() > 1e-4
