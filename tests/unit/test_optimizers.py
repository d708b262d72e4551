"""The written-out optimisers against torch.optim, step for step, and the three forms of SGD."""

from __future__ import annotations

import math

import pytest
import torch

from genai_foundations.architectures.optimizers import (
    ADAM_DEFAULTS,
    SGD,
    Adam,
    adam_init_state,
    adam_step,
    full_batch_gd_epoch,
    gradient_step,
    ill_conditioned_quadratic,
    minibatch_sgd_epoch,
    optimize_2d,
    rosenbrock,
    sgd_epoch,
    sgd_momentum_step,
    stochastic_gd_epoch,
    train_with_batches,
)

SHAPES = [(3,), (4, 5), (), (2, 3, 2)]


def make_params(dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g, dtype=dtype) for shape in SHAPES]


def toy_loss(params):
    """A non-quadratic loss so that the gradients change from step to step."""
    total = 0.0
    for i, p in enumerate(params):
        total = total + (torch.sin(3.0 * p) * (i + 1)).sum() + 0.5 * (p**2).sum() + (p**4).mean()
    return total


def run(optimizer_cls, params, steps, **kwargs):
    params = [p.clone().requires_grad_(True) for p in params]
    opt = optimizer_cls(params, **kwargs)
    trajectory = []
    for _ in range(steps):
        opt.zero_grad()
        toy_loss(params).backward()
        opt.step()
        trajectory.append([p.detach().clone() for p in params])
    return trajectory


def assert_same_trajectory(ours, theirs, rtol, atol):
    assert len(ours) == len(theirs)
    for step, (a, b) in enumerate(zip(ours, theirs)):
        for i, (x, y) in enumerate(zip(a, b)):
            assert torch.allclose(x, y, rtol=rtol, atol=atol), f"step {step + 1}, tensor {i}: {(x - y).abs().max()}"


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"lr": 0.05},
        {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6},
        {"lr": 0.01, "weight_decay": 0.1},
    ],
)
def test_adam_equals_torch_adam_step_for_step(kwargs):
    params = make_params()
    ours = run(Adam, params, 25, **kwargs)
    theirs = run(torch.optim.Adam, params, 25, **kwargs)
    assert_same_trajectory(ours, theirs, rtol=1e-12, atol=1e-14)
    # and the parameters really moved (a no-op optimiser would not pass silently)
    assert all((a - b).abs().max() > 1e-3 * kwargs.get("lr", 1e-3) for a, b in zip(ours[-1], params))


def test_adam_float32_equals_torch_adam():
    params = make_params(torch.float32, seed=3)
    ours = run(Adam, params, 30, lr=0.01)
    theirs = run(torch.optim.Adam, params, 30, lr=0.01)
    assert_same_trajectory(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("weight_decay", [0.01, 0.3])
def test_decoupled_adam_equals_torch_adamw(weight_decay):
    params = make_params(seed=1)
    ours = run(Adam, params, 20, lr=0.03, weight_decay=weight_decay, decoupled=True)
    theirs = run(torch.optim.AdamW, params, 20, lr=0.03, weight_decay=weight_decay)
    assert_same_trajectory(ours, theirs, rtol=1e-12, atol=1e-14)
    # L2-style decay is a different algorithm: it must not coincide with AdamW
    coupled = run(Adam, params, 20, lr=0.03, weight_decay=weight_decay)
    assert not torch.allclose(coupled[-1][1], theirs[-1][1])


def test_functional_adam_step_equals_torch_adam_and_leaves_its_inputs_alone():
    params = make_params(seed=2)
    torch_params = [p.clone().requires_grad_(True) for p in params]
    opt = torch.optim.Adam(torch_params, lr=0.1)
    ours = [p.clone() for p in params]
    states = [adam_init_state(p) for p in ours]
    for step in range(1, 8):
        leaves = [p.clone().requires_grad_(True) for p in ours]
        grads = torch.autograd.grad(toy_loss(leaves), leaves)
        for i, (p, g) in enumerate(zip(ours, grads)):
            before = (p.clone(), {k: (v.clone() if torch.is_tensor(v) else v) for k, v in states[i].items()})
            ours[i], new_state = adam_step(p, g, states[i], lr=0.1)
            assert torch.equal(p, before[0]) and torch.equal(states[i]["m"], before[1]["m"])
            assert new_state["step"] == step
            states[i] = new_state
        opt.zero_grad()
        toy_loss(torch_params).backward()
        opt.step()
        for i, p in enumerate(torch_params):
            assert torch.allclose(ours[i], p.detach(), rtol=1e-12, atol=1e-14)
            torch_state = opt.state[p]
            assert torch.allclose(states[i]["m"], torch_state["exp_avg"], rtol=1e-12, atol=1e-15)
            assert torch.allclose(states[i]["v"], torch_state["exp_avg_sq"], rtol=1e-12, atol=1e-15)


def test_adam_defaults_are_those_of_the_paper_and_of_torch():
    assert ADAM_DEFAULTS == {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8}
    ours = Adam([torch.zeros(1, requires_grad=True)]).defaults
    theirs = torch.optim.Adam([torch.zeros(1, requires_grad=True)]).defaults
    for key in ("lr", "betas", "eps"):
        assert ours[key] == theirs[key] == ADAM_DEFAULTS[key]


def test_adam_bias_correction_makes_the_first_step_lr_times_the_sign():
    grad = torch.tensor([0.03, -2.0, 50.0], dtype=torch.float64)
    param = torch.zeros(3, dtype=torch.float64)
    new, state = adam_step(param, grad, adam_init_state(param), lr=0.1)
    assert torch.allclose(new, -0.1 * grad.sign(), rtol=1e-5)
    # without the correction the first step would be (1-beta1)/sqrt(1-beta2) = 3.162 times larger
    m, v = state["m"], state["v"]
    uncorrected = 0.1 * m / (v.sqrt() + 1e-8)
    assert torch.allclose(uncorrected.abs(), torch.full((3,), 0.1 * 0.1 / math.sqrt(0.001), dtype=torch.float64), rtol=1e-4)


def test_adam_rejects_bad_hyper_parameters_and_state():
    p = torch.zeros(2, requires_grad=True)
    for kwargs in ({"lr": -1.0}, {"lr": 0.0}, {"betas": (1.0, 0.999)}, {"betas": (0.9, -0.1)}, {"eps": -1.0},
                   {"weight_decay": -0.1}):
        with pytest.raises(ValueError):
            Adam([p], **kwargs)
    with pytest.raises(KeyError, match="adam_init_state"):
        adam_step(torch.zeros(2), torch.zeros(2), {"m": torch.zeros(2)})
    with pytest.raises(ValueError, match="shape"):
        adam_step(torch.zeros(2), torch.zeros(3), adam_init_state(torch.zeros(2)))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lr": 0.05},
        {"lr": 0.05, "momentum": 0.9},
        {"lr": 0.02, "momentum": 0.5, "weight_decay": 0.1},
        {"lr": 0.02, "momentum": 0.9, "nesterov": True},
    ],
)
def test_sgd_with_momentum_equals_torch_sgd(kwargs):
    params = make_params(seed=4)
    ours = run(SGD, params, 25, **kwargs)
    theirs = run(torch.optim.SGD, params, 25, **kwargs)
    assert_same_trajectory(ours, theirs, rtol=1e-12, atol=1e-14)


def test_momentum_step_by_hand():
    p, g = torch.tensor([1.0]), torch.tensor([2.0])
    p1, b1 = sgd_momentum_step(p, g, None, lr=0.1, momentum=0.9)
    assert b1.item() == pytest.approx(2.0) and p1.item() == pytest.approx(0.8)
    p2, b2 = sgd_momentum_step(p1, g, b1, lr=0.1, momentum=0.9)
    assert b2.item() == pytest.approx(0.9 * 2.0 + 2.0) and p2.item() == pytest.approx(0.8 - 0.38)
    with pytest.raises(ValueError):
        SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=1.5)
    with pytest.raises(ValueError):
        SGD([torch.zeros(1, requires_grad=True)], lr=0.1, nesterov=True)


# ----------------------------------------------------------- the three forms of SGD
def mse_loss(params, X, y):
    w, b = params
    return 0.5 * ((X @ w + b - y) ** 2).mean()


def regression_data(n=10, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = X @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64) + 0.3 + 0.1 * torch.randn(n, generator=g, dtype=torch.float64)
    return X, y, [torch.zeros(d, dtype=torch.float64), torch.zeros((), dtype=torch.float64)]


def test_full_batch_epoch_is_one_step_with_the_mean_gradient():
    X, y, params = regression_data()
    w, b = full_batch_gd_epoch(params, mse_loss, X, y, lr=0.1)
    residual = X @ params[0] + params[1] - y  # = -y at zero parameters
    assert torch.allclose(w, -0.1 * X.T @ residual / len(X), rtol=1e-12)
    assert torch.allclose(b, -0.1 * residual.mean(), rtol=1e-12)


def test_one_sample_sgd_makes_n_updates_in_the_given_order():
    X, y, params = regression_data()
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(5))
    got = stochastic_gd_epoch(params, mse_loss, X, y, lr=0.05, order=order)
    w, b = params[0].clone(), params[1].clone()
    for i in order.tolist():  # the update by hand: grad of 0.5 (x.w + b - y)^2
        r = X[i] @ w + b - y[i]
        w, b = w - 0.05 * r * X[i], b - 0.05 * r
    assert torch.allclose(got[0], w, rtol=1e-12) and torch.allclose(got[1], b, rtol=1e-12)
    # a different order gives a different result: the order really is used
    other = stochastic_gd_epoch(params, mse_loss, X, y, lr=0.05)
    assert not torch.allclose(other[0], got[0])


def test_minibatch_epoch_with_a_partial_last_batch():
    X, y, params = regression_data(n=10)
    order = torch.randperm(10, generator=torch.Generator().manual_seed(1))
    got = minibatch_sgd_epoch(params, mse_loss, X, y, lr=0.1, batch_size=4, order=order)
    current = params
    for batch in (order[:4], order[4:8], order[8:]):  # 4 + 4 + 2 examples: 3 updates
        leaves = [p.clone().requires_grad_(True) for p in current]
        grads = torch.autograd.grad(mse_loss(leaves, X[batch], y[batch]), leaves)
        current = gradient_step(leaves, grads, 0.1)
    assert all(torch.allclose(a, b, rtol=1e-12) for a, b in zip(got, current))
    assert torch.equal(params[0], torch.zeros(3, dtype=torch.float64))  # inputs untouched


def test_sgd_epoch_bad_input():
    X, y, params = regression_data()
    with pytest.raises(ValueError, match="batch_size"):
        sgd_epoch(params, mse_loss, X, y, lr=0.1, batch_size=0)
    with pytest.raises(ValueError, match="learning rate"):
        sgd_epoch(params, mse_loss, X, y, lr=-0.1, batch_size=2)
    with pytest.raises(ValueError, match="same length"):
        sgd_epoch(params, mse_loss, X, y[:-1], lr=0.1, batch_size=2)


def test_train_with_batches_counts_updates_and_epochs_and_reduces_the_loss():
    X, y, _ = regression_data(n=50)
    X = X.float()
    y = y.float()
    for batch_size, expected_updates in [(50, 3), (1, 150), (16, 12)]:
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 1)
        run = train_with_batches(model, lambda m, a, b: 0.5 * ((m(a).squeeze(-1) - b) ** 2).mean(), X, y,
                                 torch.optim.SGD(model.parameters(), lr=0.05), batch_size, epochs=3,
                                 generator=torch.Generator().manual_seed(0))
        assert run.updates[-1] == expected_updates
        assert run.epochs[-1] == pytest.approx(3.0)
        assert run.losses[-1] < run.losses[0]
        assert run.updates == sorted(run.updates) and run.seconds == sorted(run.seconds)


def test_adam_moves_both_coordinates_at_the_same_pace_on_an_ill_conditioned_bowl():
    # early Adam steps are about lr * sign(g) per coordinate, whatever the curvature
    path = optimize_2d(ill_conditioned_quadratic, (-3.0, 1.0), lambda p: Adam(p, lr=0.1), steps=3)
    steps = (path[1:] - path[:-1]).abs()
    assert torch.allclose(steps, torch.full_like(steps, 0.1), rtol=0.05)
    # plain gradient descent moves 20 times faster along the steep coordinate
    gd = optimize_2d(ill_conditioned_quadratic, (-3.0, 1.0), lambda p: SGD(p, lr=0.01), steps=1)
    move = (gd[1] - gd[0]).abs()
    assert move[1] / move[0] == pytest.approx(20.0 / 3.0)
    assert rosenbrock(torch.tensor([1.0, 1.0])) == 0.0


def test_warmup_cosine_schedule_climbs_linearly_then_follows_the_cosine():
    from genai_foundations.architectures.optimizers import warmup_cosine_factor, warmup_cosine_schedule

    factors = [warmup_cosine_factor(s, 20, 4) for s in range(20)]
    assert factors[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert factors[4] == 1.0 and factors[-1] == pytest.approx(0.5 * (1 + math.cos(math.pi * 15 / 16)))
    assert all(a >= b for a, b in zip(factors[3:], factors[4:]))  # non-increasing after the warm-up
    p = torch.zeros(2, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.4)
    sched = warmup_cosine_schedule(opt, total_steps=20, warmup_steps=4)
    seen = []
    for _ in range(20):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([0.4 * f for f in factors])
    with pytest.raises(ValueError, match="warmup_steps"):
        warmup_cosine_factor(0, 10, 10)


def test_warmup_cosine_without_warmup_is_torch_cosine_annealing():
    from genai_foundations.architectures.optimizers import warmup_cosine_schedule

    ours, theirs = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    opt_a, opt_b = torch.optim.SGD([ours], lr=0.3), torch.optim.SGD([theirs], lr=0.3)
    sched_a = warmup_cosine_schedule(opt_a, total_steps=50)
    sched_b = torch.optim.lr_scheduler.CosineAnnealingLR(opt_b, T_max=50)
    for _ in range(50):
        assert opt_a.param_groups[0]["lr"] == pytest.approx(opt_b.param_groups[0]["lr"], abs=1e-12)
        opt_a.step(), opt_b.step()
        sched_a.step(), sched_b.step()
