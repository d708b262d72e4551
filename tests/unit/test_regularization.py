"""Penalties, clipping and the training diagnostics of the training-issues chapter, against PyTorch."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from genai_foundations.architectures.mlp import MLP
from genai_foundations.architectures.regularization import (
    EarlyStopping,
    clip_by_global_norm,
    clip_grad_norm_,
    activation_outputs,
    dead_relu_fraction,
    dead_relu_masks,
    dead_relu_units,
    exact_zero_fraction,
    gradient_profile,
    initialize_,
    l1_penalty,
    l1_proximal_step_,
    l2_penalty,
    lasso_ista,
    layer_gradient_norms,
    saturated_fraction,
    shift_augment,
    soft_threshold,
    train_classifier,
    weight_parameters,
)

SHAPES = [(3, 4), (5,), (2, 3, 2), ()]


def random_tensors(seed: int = 0, dtype=torch.float64, scale: float = 1.0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [scale * torch.randn(shape, generator=g, dtype=dtype) for shape in SHAPES]


def small_model(seed: int = 0, **kwargs) -> nn.Module:
    torch.manual_seed(seed)
    return MLP(4, [6, 6], 3, **kwargs).double()


def test_penalties_equal_norms_computed_by_torch():
    params = random_tensors()
    flat = torch.cat([p.reshape(-1) for p in params])
    torch.testing.assert_close(l1_penalty(params, 0.3), 0.3 * torch.linalg.vector_norm(flat, ord=1))
    torch.testing.assert_close(l2_penalty(params, 0.3), 0.15 * torch.linalg.vector_norm(flat) ** 2)
    torch.testing.assert_close(l1_penalty(params[0], 2.0), 2.0 * params[0].abs().sum())  # a single tensor
    assert l1_penalty(params, 0.0).item() == 0.0 and l2_penalty(params, 0).item() == 0.0


def test_penalty_gradients_are_sign_and_identity():
    params = [p.clone().requires_grad_(True) for p in random_tensors(1)]
    (l1_penalty(params, 0.7) + l2_penalty(params, 0.2)).backward()
    for p in params:
        torch.testing.assert_close(p.grad, 0.7 * torch.sign(p.detach()) + 0.2 * p.detach())


def test_l2_penalty_with_sgd_is_torch_weight_decay():
    torch.manual_seed(0)
    x, y = torch.randn(16, 4, dtype=torch.float64), torch.randint(0, 3, (16,))
    penalised, decayed = small_model(), small_model()
    opt_a = torch.optim.SGD(penalised.parameters(), lr=0.1, momentum=0.9)
    opt_b = torch.optim.SGD(decayed.parameters(), lr=0.1, momentum=0.9, weight_decay=0.05)
    for _ in range(8):
        opt_a.zero_grad()
        (F.cross_entropy(penalised(x), y) + l2_penalty(penalised.parameters(), 0.05)).backward()
        opt_a.step()
        opt_b.zero_grad()
        F.cross_entropy(decayed(x), y).backward()
        opt_b.step()
    for a, b in zip(penalised.parameters(), decayed.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_l2_penalty_with_adam_is_coupled_decay_not_adamw():
    torch.manual_seed(1)
    x, y = torch.randn(16, 4, dtype=torch.float64), torch.randint(0, 3, (16,))
    models = [small_model(), small_model(), small_model()]
    opts = [torch.optim.Adam(models[0].parameters(), lr=0.01),
            torch.optim.Adam(models[1].parameters(), lr=0.01, weight_decay=0.1),
            torch.optim.AdamW(models[2].parameters(), lr=0.01, weight_decay=0.1)]
    for _ in range(5):
        for i, (model, opt) in enumerate(zip(models, opts)):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            if i == 0:
                loss = loss + l2_penalty(model.parameters(), 0.1)
            loss.backward()
            opt.step()
    for a, b in zip(models[0].parameters(), models[1].parameters()):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    assert any(not torch.allclose(a, c) for a, c in zip(models[0].parameters(), models[2].parameters()))


@pytest.mark.parametrize("max_norm", [0.01, 0.5, 3.0, 1e4])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_clip_by_global_norm_matches_clip_grad_norm_(max_norm, dtype):
    grads = random_tensors(2, dtype=dtype, scale=2.0)
    params = [torch.zeros_like(g, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    expected_total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    clipped, total = clip_by_global_norm(grads, max_norm)
    torch.testing.assert_close(total, expected_total)
    for c, p in zip(clipped, params):
        torch.testing.assert_close(c, p.grad)
    new_norm = torch.linalg.vector_norm(torch.cat([c.reshape(-1) for c in clipped]))
    assert new_norm <= max_norm * (1 + 1e-5) or max_norm > total
    torch.testing.assert_close(grads[0], random_tensors(2, dtype=dtype, scale=2.0)[0])  # inputs untouched


def test_in_place_clipping_on_a_model_matches_torch():
    torch.manual_seed(0)
    x, y = torch.randn(8, 4, dtype=torch.float64), torch.randint(0, 3, (8,))
    ours, theirs = small_model(), small_model()
    for model in (ours, theirs):
        (100 * F.cross_entropy(model(x), y)).backward()
    total = clip_grad_norm_(ours.parameters(), 0.25)
    expected = torch.nn.utils.clip_grad_norm_(theirs.parameters(), 0.25)
    torch.testing.assert_close(total, expected)
    for a, b in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(a.grad, b.grad)
    assert clip_grad_norm_([torch.zeros(2, requires_grad=True)], 1.0).item() == 0.0  # no gradients at all


def test_layer_gradient_norms_are_the_weight_gradient_norms():
    model = small_model()
    x, y = torch.randn(5, 4, dtype=torch.float64), torch.randint(0, 3, (5,))
    with pytest.raises(ValueError, match="backward"):
        layer_gradient_norms(model)
    norms = gradient_profile(model, x, y)
    assert list(norms) == ["hidden.0.linear", "hidden.1.linear", "out"]
    manual = [model.hidden[0].linear.weight.grad, model.hidden[1].linear.weight.grad, model.out.weight.grad]
    assert list(norms.values()) == pytest.approx([g.norm().item() for g in manual], rel=1e-12)
    again = gradient_profile(model, x, y)  # gradients are reset, not accumulated
    assert list(again.values()) == pytest.approx(list(norms.values()), rel=1e-12)


def test_vanishing_gradients_in_a_deep_sigmoid_net_and_not_with_he_init_relu():
    x, y = torch.randn(64, 16), torch.randint(0, 4, (64,))
    torch.manual_seed(0)
    sigmoid = list(gradient_profile(MLP(16, [32] * 12, 4, activation="sigmoid"), x, y).values())
    torch.manual_seed(0)
    relu = list(gradient_profile(initialize_(MLP(16, [32] * 12, 4), "he"), x, y).values())
    assert sigmoid[0] / sigmoid[-2] < 1e-5
    assert 0.1 < relu[0] / relu[-2] < 10


def test_dead_relu_counting_on_a_constructed_net():
    net = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [-1.0, -1.0]]))
        net[0].bias.copy_(torch.tensor([0.0, 0.0, -0.5, 0.0]))
        net[2].weight.copy_(torch.tensor([[1.0, 1.0, 1.0, 1.0], [-1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]))
        net[2].bias.copy_(torch.tensor([0.0, 0.0, -1.0]))
    x = torch.rand(50, 2) + 0.1  # the positive quadrant: units 2 and 3 of layer 1 never fire
    counts = dead_relu_units(net, x)
    assert counts == {"1": (2, 4), "3": (2, 3)}
    assert dead_relu_fraction(net, x) == pytest.approx(4 / 7)
    assert all(not m._forward_hooks for m in net.modules())  # the hooks are gone
    # negative inputs: now units 0 and 1 of layer 1 are dead, and layer 2 keeps two dead units
    assert dead_relu_units(net, -x) == {"1": (2, 4), "3": (2, 3)}
    # on both halves together every unit of layer 1 fires; units 1 and 2 of layer 2 can never fire
    assert dead_relu_units(net, torch.cat([x, -x])) == {"1": (0, 4), "3": (2, 3)}
    with pytest.raises(ValueError, match="nn.ReLU"):
        dead_relu_fraction(nn.Sequential(nn.Linear(2, 2), nn.Tanh()), x)


def test_dead_relu_fraction_counts_an_mlp_with_negative_biases():
    torch.manual_seed(0)
    net = MLP(3, [8, 8], 2)
    assert dead_relu_fraction(net, torch.randn(100, 3)) < 0.5
    with torch.no_grad():
        for block in net.hidden:
            block.linear.bias.fill_(-100.0)
    assert dead_relu_fraction(net, torch.randn(100, 3)) == 1.0
    assert net.training  # the mode is restored


def test_initialize_has_the_advertised_standard_deviations():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(400, 300), nn.ReLU(), nn.Linear(300, 200))
    initialize_(net, "he")
    assert net[0].weight.std().item() == pytest.approx((2 / 400) ** 0.5, rel=0.02)
    assert net[2].bias.abs().max().item() == 0.0
    initialize_(net, "xavier", gain=3.0)
    assert net[2].weight.std().item() == pytest.approx(3 * (2 / 500) ** 0.5, rel=0.02)
    with pytest.raises(ValueError, match="scheme"):
        initialize_(net, "orthogonal")


def test_early_stopping_stops_after_patience_and_restores_the_best_weights():
    model = nn.Linear(2, 1)
    stopper = EarlyStopping(patience=2)
    decisions = []
    for epoch, loss in enumerate([1.0, 0.8, 0.85, 0.7, 0.75, 0.9, 0.6]):
        with torch.no_grad():
            model.weight.fill_(float(epoch))
        decisions.append(stopper.step(loss, model))
        if decisions[-1]:
            break
    assert decisions == [False, False, False, False, False, True]
    assert stopper.best_epoch == 3 and stopper.best == 0.7
    stopper.restore(model)
    assert model.weight.eq(3.0).all()
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(0)


def test_shift_augment_moves_each_image_by_at_most_one_pixel():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(200, 2, 5, 6, generator=g)
    out = shift_augment(images, torch.Generator().manual_seed(1), fill=-1.0)
    assert out.shape == images.shape
    padded = F.pad(images, (1, 1, 1, 1), value=-1.0)
    seen = set()
    for i in range(len(images)):
        matches = [(dy, dx) for dy in range(3) for dx in range(3)
                   if torch.equal(out[i], padded[i, :, dy:dy + 5, dx:dx + 6])]
        assert len(matches) == 1, f"image {i} is not a one-pixel shift of its input"
        seen.add(matches[0])
    assert len(seen) == 9  # every offset occurs
    again = shift_augment(images, torch.Generator().manual_seed(1), fill=-1.0)
    assert torch.equal(out, again)
    assert torch.equal(shift_augment(images, g, max_shift=0), images)
    with pytest.raises(ValueError, match="B, C, H, W"):
        shift_augment(images[0], g)


def test_train_classifier_records_curves_and_stops_early():
    torch.manual_seed(0)
    x, y = torch.randn(60, 1, 2, 2), torch.randint(0, 3, (60,))
    model = nn.Sequential(nn.Flatten(), MLP(4, [16], 3))
    run = train_classifier(model, x[:40], y[:40], x[40:], y[40:], epochs=6, batch_size=8, lr=1e-2,
                           l1=1e-4, l2=1e-3, augment=shift_augment, grad_clip=1.0, desc="test")
    assert run.epochs == 6 and len(run.train_acc) == 6 and run.best_epoch == 5
    assert run.train_loss[-1] < run.train_loss[0]
    model = nn.Sequential(nn.Flatten(), MLP(4, [64, 64], 3))
    noise = torch.randint(0, 3, (40,))  # random labels: validation loss only gets worse
    run = train_classifier(model, x[:40], noise, x[40:], y[40:], epochs=200, batch_size=8, lr=1e-2,
                           optimizer="adamw", weight_decay=0.01, patience=3, desc="test")
    assert run.stopped_early and run.epochs == run.best_epoch + 4
    assert run.final_val_acc == run.val_acc[run.best_epoch]
    assert len(weight_parameters(model)) == 3
    with pytest.raises(ValueError, match="optimizer"):
        train_classifier(copy.deepcopy(model), x, y, x, y, epochs=1, optimizer="lbfgs")


def test_errors_say_what_was_expected():
    with pytest.raises(ValueError, match="lam"):
        l1_penalty([torch.ones(2)], -1.0)
    with pytest.raises(ValueError, match="empty"):
        l2_penalty([], 1.0)
    with pytest.raises(ValueError, match="max_norm"):
        clip_by_global_norm([torch.ones(2)], 0.0)


# ----------------------------------------------------------------------------- the proximal L1 step


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_soft_threshold_is_the_closed_form_prox_of_the_absolute_value(dtype):
    w = torch.tensor([-3.0, -0.5, -0.2, 0.0, 0.2, 0.3, 0.5, 2.0], dtype=dtype)
    original = w.clone()
    out = soft_threshold(w, 0.3)
    expected = torch.tensor([-2.7, -0.2, 0.0, 0.0, 0.0, 0.0, 0.2, 1.7], dtype=dtype)
    torch.testing.assert_close(out, expected)
    assert out.dtype == dtype and torch.equal(w, original)  # a new tensor, input untouched
    assert (out[2:6] == 0).all()  # |w| <= t lands exactly on zero
    torch.testing.assert_close(soft_threshold(w, 0.0), w)


def test_soft_threshold_minimises_the_prox_objective_on_a_grid():
    g = torch.Generator().manual_seed(0)
    w = 3 * torch.randn(50, generator=g, dtype=torch.float64)
    t = 0.7
    u = torch.linspace(-12, 12, 240001, dtype=torch.float64)  # step 1e-4
    objective = 0.5 * (u[None, :] - w[:, None]) ** 2 + t * u.abs()[None, :]
    brute = u[objective.argmin(dim=1)]
    torch.testing.assert_close(soft_threshold(w, t), brute, atol=1e-4, rtol=0)


def test_proximal_gradient_descent_reaches_sklearn_lasso_with_exact_zeros():
    from sklearn.linear_model import Lasso

    g = torch.Generator().manual_seed(1)
    n, d = 80, 12
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    true_w = torch.zeros(d, dtype=torch.float64)
    true_w[:3] = torch.tensor([2.0, -1.5, 1.0], dtype=torch.float64)
    y = X @ true_w + 0.1 * torch.randn(n, generator=g, dtype=torch.float64)
    alpha = 0.1  # sklearn's objective: (1/2n)|y - Xw|^2 + alpha |w|_1
    lipschitz = float(torch.linalg.eigvalsh(X.T @ X / n).max())
    lr = 1.0 / lipschitz
    w_prox = torch.zeros(d, dtype=torch.float64, requires_grad=True)
    w_sub = torch.zeros(d, dtype=torch.float64, requires_grad=True)
    for _ in range(3000):
        for w, proximal in ((w_prox, True), (w_sub, False)):
            loss = 0.5 * ((y - X @ w) ** 2).mean()
            if not proximal:
                loss = loss + l1_penalty(w, alpha)  # the subgradient method on the same objective
            w.grad = None
            loss.backward()
            with torch.no_grad():
                w -= lr * w.grad
            if proximal:
                l1_proximal_step_([w], lr, alpha)
    reference = Lasso(alpha=alpha, fit_intercept=False, tol=1e-12, max_iter=100000).fit(X.numpy(), y.numpy()).coef_
    torch.testing.assert_close(w_prox.detach(), torch.from_numpy(reference), atol=1e-8, rtol=0)
    assert exact_zero_fraction([w_prox]) == pytest.approx(float((reference == 0).mean()))
    assert (reference == 0).sum() >= 5             # the lasso solution is sparse ...
    assert exact_zero_fraction([w_sub]) == 0.0     # ... but subgradient steps never land on zero
    assert (w_sub.detach()[torch.from_numpy(reference == 0)].abs() < 2 * lr * alpha).all()  # they hover near it


def test_l1_proximal_step_works_in_place_on_every_tensor():
    params = [p.clone() for p in random_tensors(3)]
    expected = [soft_threshold(p, 0.1 * 2.0) for p in params]
    l1_proximal_step_(params, lr=0.1, lam=2.0)
    for p, e in zip(params, expected):
        assert torch.equal(p, e)
    assert exact_zero_fraction(params) == pytest.approx(
        sum(int((e == 0).sum()) for e in expected) / sum(e.numel() for e in expected))
    with pytest.raises(ValueError, match="lam"):
        soft_threshold(torch.ones(2), -0.1)
    with pytest.raises(TypeError, match="torch.Tensor"):
        soft_threshold([1.0, 2.0], 0.1)


def lasso_problem(seed: int, n: int = 60, d: int = 10, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=dtype)
    true_w = torch.zeros(d, dtype=dtype)
    true_w[:3] = torch.tensor([2.0, -1.5, 1.0], dtype=dtype)
    y = X @ true_w + 0.1 * torch.randn(n, generator=g, dtype=dtype)
    lr = 1.0 / float(torch.linalg.eigvalsh(X.T.double() @ X.double() / n).max())
    return X, y, lr


def test_lasso_ista_is_the_gradient_step_plus_proximal_step_loop():
    X, y, lr = lasso_problem(2)
    X0, y0 = X.clone(), y.clone()
    w = torch.zeros(X.shape[1], dtype=X.dtype, requires_grad=True)
    for steps in range(1, 26):  # autograd on the data loss, then l1_proximal_step_, as in the chapter
        loss = 0.5 * ((y - X @ w) ** 2).mean()
        w.grad = None
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
        l1_proximal_step_([w], lr, 0.1)
        if steps in (1, 5, 25):
            out = lasso_ista(X, y, 0.1, lr, steps)
            torch.testing.assert_close(out, w.detach(), atol=1e-12, rtol=0)
            assert torch.equal(out == 0, w.detach() == 0)  # the same exact zeros
    assert torch.equal(X, X0) and torch.equal(y, y0)
    assert torch.equal(lasso_ista(X, y, 0.1, lr, 0), torch.zeros(X.shape[1], dtype=X.dtype))
    assert lasso_ista(X.float(), y.float(), 0.1, lr, 3).dtype == torch.float32
    lam_max = float((X.T @ y).abs().max()) / len(X)  # above it the lasso solution is 0
    assert torch.equal(lasso_ista(X, y, 1.01 * lam_max, lr, 50), torch.zeros(X.shape[1], dtype=X.dtype))
    with pytest.raises(ValueError, match="steps"):
        lasso_ista(X, y, 0.1, lr, -1)
    with pytest.raises(ValueError, match="shape"):
        lasso_ista(X, y[:-1], 0.1, lr, 1)


def test_lasso_ista_converges_to_sklearn_lasso_with_its_exact_zeros():
    from sklearn.linear_model import Lasso

    X, y, lr = lasso_problem(3)
    w = lasso_ista(X, y, 0.1, lr, 3000)
    reference = Lasso(alpha=0.1, fit_intercept=False, tol=1e-12, max_iter=100000).fit(X.numpy(), y.numpy()).coef_
    torch.testing.assert_close(w, torch.from_numpy(reference), atol=1e-8, rtol=0)
    assert torch.equal(w == 0, torch.from_numpy(reference == 0)) and (reference == 0).sum() >= 4


# ----------------------------------------------------------------------------- saturation and dead-unit masks


def test_dead_relu_masks_mark_the_units_counted_by_dead_relu_units():
    torch.manual_seed(0)
    net = MLP(3, [8, 8], 2)
    with torch.no_grad():
        net.hidden[0].linear.bias[:3] = -100.0
    x = torch.randn(64, 3)
    masks = dead_relu_masks(net, x)
    assert set(masks) == {"hidden.0.activation", "hidden.1.activation"}
    assert masks["hidden.0.activation"][:3].all() and masks["hidden.0.activation"].shape == (8,)
    assert {k: (int(m.sum()), m.numel()) for k, m in masks.items()} == dead_relu_units(net, x)


def test_activation_outputs_are_the_outputs_of_each_activation():
    torch.manual_seed(0)
    net = MLP(4, [5, 6], 3, activation="tanh")
    x = torch.randn(7, 4)
    outs = activation_outputs(net, x)
    assert list(outs) == ["hidden.0.activation", "hidden.1.activation"]
    h1 = torch.tanh(net.hidden[0].linear(x))
    torch.testing.assert_close(outs["hidden.0.activation"], h1)
    torch.testing.assert_close(outs["hidden.1.activation"], torch.tanh(net.hidden[1].linear(h1)))
    assert all(not m._forward_hooks for m in net.modules())
    with pytest.raises(ValueError, match="activation module"):
        activation_outputs(nn.Sequential(nn.Linear(2, 2)), torch.randn(3, 2))


def test_saturated_fraction_uses_a_tenth_of_the_peak_derivative():
    h = torch.tensor([0.0, 0.5, 0.94, 0.96, -0.96, -0.99])
    assert saturated_fraction(h, "tanh") == pytest.approx(3 / 6)      # |h| > sqrt(0.9) = 0.9487
    s = torch.tensor([0.5, 0.03, 0.02, 0.98, 0.97, 0.999])
    assert saturated_fraction(s, "sigmoid") == pytest.approx(3 / 6)   # 4h(1-h) < 0.1
    with pytest.raises(ValueError, match="tanh"):
        saturated_fraction(h, "relu")


def test_soft_threshold_equals_torch_softshrink():
    g = torch.Generator().manual_seed(4)
    for dtype in (torch.float32, torch.float64):
        w = torch.randn(200, generator=g, dtype=dtype)
        for t in (0.0, 0.05, 0.5, 2.0):
            torch.testing.assert_close(soft_threshold(w, t), F.softshrink(w, lambd=t), rtol=0, atol=0)
