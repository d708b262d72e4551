"""Every "numerically stable" function of the package against PyTorch: values AND autograd gradients.

The inputs are the points where stable formulas go wrong: exactly 0 (the kink
of the ``abs``/``clamp``/``max``/``where`` that a stable formula is usually
written with, whose subgradient autograd picks), +-1e-8 (cancellation) and
+-1000 (overflow of ``exp``), in float32 and float64. A formula that has the
right value but is differentiated on the wrong side of a kink, or that
evaluates an overflowing branch that a ``where`` then discards, fails here.

Audit of the package (grep for ``abs(``, ``clamp``, ``.max(``, ``amax``,
``torch.where``, ``maximum`` in smooth formulas), and where each instance is
tested:

* ``architectures.activations``: ``sigmoid``, ``tanh`` (were ``exp(-|x|)`` and
  ``2 sigma(2x) - 1``), ``softmax`` / ``log_softmax`` (max shift);
* ``architectures.losses``: ``softplus``, ``binary_cross_entropy_with_logits``
  (was ``clamp(min=0) + log1p(exp(-|z|))``), ``cross_entropy_from_logits`` (max
  shift), ``binary_cross_entropy`` (clamped logs), ``entropy``,
  ``cross_entropy``, ``kl_divergence`` (``where`` for 0 log 0);
* ``architectures.scalar_autograd``: ``Value.sigmoid``, ``Value.tanh``,
  ``binary_cross_entropy_with_logit`` (branch on the sign); ``backprop.sigmoid``;
* mixtures through ``logsumexp``/``softmax``: ``score_matching.GaussianMixture``,
  ``flow_matching.marginal_log_density_mixture``, ``flows.mog_cdf_flow`` (with its
  ``clamp(0, 1)``), ``differential_equations.GaussianMixture1D``;
* ``regularization.clip_by_global_norm`` (``clamp`` of the scale);
* ``convolution.max_pool2d`` (``amax``): a valid subgradient, see its test.

Non-smooth functions whose kink is the point of the function (ReLU, MAE, the
L1 penalty, W1's ``|F_P - F_Q|``) are not "stable formulas" and are tested
against PyTorch's subgradient conventions in their own test files.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from genai_foundations.algorithms import flow_matching, flows, score_matching
from genai_foundations.algorithms.gaussian_paths import LinearPath
from genai_foundations.appendices import differential_equations as de
from genai_foundations.architectures import activations as act
from genai_foundations.architectures import backprop, convolution, regularization, scalar_autograd
from genai_foundations.architectures import losses as L

POINTS = (0.0, 1e-8, -1e-8, 1000.0, -1000.0)
DTYPES = (torch.float32, torch.float64)


def points(dtype: torch.dtype, extra: tuple[float, ...] = ()) -> torch.Tensor:
    return torch.tensor(POINTS + extra, dtype=dtype)


def close(actual: torch.Tensor, expected: torch.Tensor, ulps: float = 8.0, what: str = "") -> None:
    """Equal up to a few units of rounding (relative), with no absolute slack that could hide 1e-8 vs 0."""
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} instead of {expected.dtype}"
    eps = torch.finfo(expected.dtype).eps
    torch.testing.assert_close(actual, expected, rtol=ulps * eps, atol=torch.finfo(expected.dtype).tiny,
                               equal_nan=False, msg=lambda m: f"{what}: {m}")


def close_grad(actual: torch.Tensor, expected: torch.Tensor, ulps: float = 8.0, what: str = "",
               scale: float | None = None) -> None:
    """Gradients: relative precision, plus an absolute slack of a few units of rounding of the largest entry.

    The slack is far below the errors this file looks for (0 instead of 1/4 at x = 0), and it
    tolerates the tails, where an exact formula returns e^-30 and ``1 - s*s`` rounds to 0.
    """
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} instead of {expected.dtype}"
    assert torch.isfinite(actual).all(), f"{what}: not finite: {actual}"
    eps = torch.finfo(expected.dtype).eps
    if scale is None:
        scale = float(expected.abs().max()) if expected.numel() else 0.0
    atol = ulps * eps * scale / 2 + torch.finfo(expected.dtype).tiny
    torch.testing.assert_close(actual, expected, rtol=ulps * eps, atol=atol, msg=lambda m: f"{what}: {m}")


def grads(fn, *inputs: torch.Tensor, weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``fn(*inputs)`` and the gradient of ``sum(weights * fn)`` with respect to the first input."""
    leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
    out = fn(*leaves)
    w = torch.ones_like(out) if weights is None else weights.to(out.dtype)
    (grad,) = torch.autograd.grad((w * out).sum(), leaves[0])
    return out.detach(), grad


def reference(fn, *inputs: torch.Tensor, weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """PyTorch's value and gradient, computed in float64 and rounded to the inputs' dtype.

    In float32, PyTorch's own backward formulas round in the tails (``torch.sigmoid``'s gradient
    at 30 is ``s (1 - s) = 0`` because s rounds to 1), so the float64 answer is the reference.
    """
    dtype = inputs[0].dtype
    doubled = [t.double() if t.is_floating_point() else t for t in inputs]
    value, grad = grads(fn, *doubled, weights=None if weights is None else weights.double())
    return value.to(dtype), grad.to(dtype)


# ----------------------------------------------------------------------------------- element-wise activations


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, ours, theirs", [
    ("sigmoid", act.sigmoid, torch.sigmoid),
    ("tanh", act.tanh, torch.tanh),
    ("softplus", L.softplus, lambda z: torch.logaddexp(torch.zeros_like(z), z)),
])
def test_elementwise_values_and_gradients(name, ours, theirs, dtype):
    x = points(dtype, extra=(-0.0, 1e-6, -1e-4, 0.5, -3.0, 30.0, -30.0, 88.0, -88.0))
    value, grad = grads(ours, x)
    value_t, grad_t = reference(theirs, x)
    close(value, value_t, what=f"{name} value")
    close_grad(grad, grad_t, what=f"{name} gradient")
    assert torch.isfinite(grad).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_gradients_at_zero_are_the_derivatives(dtype):
    """The bug of the old package: 0 instead of 1/4 (sigmoid), 1 (tanh), 1/2 (softplus) at x = 0."""
    x = torch.zeros(1, dtype=dtype)
    for fn, slope in [(act.sigmoid, 0.25), (act.tanh, 1.0), (L.softplus, 0.5)]:
        assert grads(fn, x)[1].item() == slope


@pytest.mark.parametrize("dtype", DTYPES)
def test_tanh_keeps_relative_precision_near_zero(dtype):
    x = torch.tensor([1e-8, 1e-6, 1e-4, -1e-6], dtype=dtype)
    relative = ((act.tanh(x) - torch.tanh(x)) / torch.tanh(x)).abs()
    assert relative.max() <= 4 * torch.finfo(dtype).eps
    # the cancelling identity loses everything at 1e-8 in float32; the package must not
    cancelling = 2 * act.sigmoid(2 * x) - 1
    if dtype == torch.float32:
        assert cancelling[0] == 0 and act.tanh(x)[0] > 0


# ----------------------------------------------------------------------------------- max-shifted formulas


def _logit_rows(dtype: torch.dtype) -> torch.Tensor:
    v = points(dtype)
    return torch.stack([v, v.flip(0), torch.zeros_like(v), torch.full_like(v, 1000.0), v * 1e-3])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, ours, theirs", [
    ("softmax", act.softmax, lambda z: torch.softmax(z, dim=-1)),
    ("log_softmax", act.log_softmax, lambda z: torch.log_softmax(z, dim=-1)),
])
def test_softmax_family(name, ours, theirs, dtype):
    z = _logit_rows(dtype)
    weights = torch.linspace(-1, 2, z.numel(), dtype=dtype).reshape(z.shape)   # sum(p) has zero gradient
    value, grad = grads(ours, z, weights=weights)
    value_t, grad_t = reference(theirs, z, weights=weights)
    close(value, value_t, ulps=16, what=f"{name} value")
    close_grad(grad, grad_t, ulps=16, what=f"{name} gradient")
    jac = act.softmax_jacobian(z)
    expected = torch.stack([torch.autograd.functional.jacobian(lambda v: torch.softmax(v, -1), row) for row in z])
    torch.testing.assert_close(jac, expected, rtol=16 * torch.finfo(dtype).eps, atol=4 * torch.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_from_logits(dtype):
    z = _logit_rows(dtype)
    hard = torch.tensor([0, 4, 2, 1, 3])
    soft = torch.softmax(torch.arange(25, dtype=dtype).reshape(5, 5) / 7, dim=1)
    for targets in (hard, soft):
        value, grad = grads(lambda logits: L.cross_entropy_from_logits(logits, targets, "none"), z)
        value_t, grad_t = grads(lambda logits: F.cross_entropy(logits, targets, reduction="none"), z)
        close(value, value_t, ulps=16, what="cross-entropy value")
        close_grad(grad, grad_t, ulps=16, what="cross-entropy gradient")


# ----------------------------------------------------------------------------------- binary cross-entropies


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_with_logits(dtype):
    z = points(dtype).repeat(3)
    y = torch.tensor([0.0] * 5 + [1.0] * 5 + [0.3] * 5, dtype=dtype)
    for wrt in ("logits", "targets"):
        def ours(a, b):
            return L.binary_cross_entropy_with_logits(*((a, b) if wrt == "logits" else (b, a)), reduction="none")

        def theirs(a, b):
            return F.binary_cross_entropy_with_logits(*((a, b) if wrt == "logits" else (b, a)), reduction="none")

        first, second = (z, y) if wrt == "logits" else (y, z)
        value, grad = grads(ours, first, second)
        value_t, grad_t = reference(theirs, first, second)
        close(value, value_t, what="BCE-with-logits value")
        close_grad(grad, grad_t, what=f"BCE-with-logits gradient in the {wrt}")


def test_binary_cross_entropy_with_logits_issue_example():
    """Issue 9: logits [0, 0], targets [0, 1], mean reduction: PyTorch's gradient is [0.25, -0.25]."""
    _, grad = grads(lambda z: L.binary_cross_entropy_with_logits(z, torch.tensor([0.0, 1.0])), torch.zeros(2))
    assert grad.tolist() == [0.25, -0.25]


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_from_probabilities(dtype):
    p = torch.sigmoid(points(dtype)).repeat(2)          # 0.5, 0.5 +- 0.25e-8, exactly 1 and exactly 0
    y = torch.tensor([0.0] * 5 + [1.0] * 5, dtype=dtype)
    value, grad = grads(lambda a, b: L.binary_cross_entropy(a, b, reduction="none"), p, y)
    value_t, grad_t = reference(lambda a, b: F.binary_cross_entropy(a, b, reduction="none"), p, y)
    close(value, value_t, what="BCE value")
    close_grad(grad, grad_t, what="BCE gradient in the probabilities")      # finite: +-1e12 at p in {0, 1}
    # in the targets the loss is linear with slope max(log(1-p), -100) - max(log p, -100): +-100 at p in {0, 1},
    # where PyTorch returns +-inf; elsewhere the two agree
    _, grad_y = grads(lambda b, a: L.binary_cross_entropy(a, b, reduction="none"), y, p)
    _, grad_y_t = reference(lambda b, a: F.binary_cross_entropy(a, b, reduction="none"), y, p)
    inside = (p > 0) & (p < 1)
    # log(1-p) - log(p) cancels near p = 1/2 in both implementations: compare on the scale of the logarithms
    close_grad(grad_y[inside], grad_y_t[inside], what="BCE gradient in the targets", scale=1.0)
    expected_edge = torch.where(p[~inside] == 0, 100.0, -100.0).to(dtype)
    close(grad_y[~inside], expected_edge, what="BCE gradient in the targets at p in {0, 1}")


# ----------------------------------------------------------------------------------- entropy, cross-entropy, KL


def _model_logits(dtype: torch.dtype) -> torch.Tensor:
    # softmax of these underflows to exactly 0 in the last entry (and in float32 in two more)
    return torch.tensor([0.0, 1e-8, -1e-8, 2.0, -1000.0], dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_information_quantities_of_a_softmax_model(dtype):
    """Gradients with respect to the logits of q = softmax(z), with p = 0 wherever q underflows."""
    z = _model_logits(dtype)
    p = torch.tensor([0.4, 0.3, 0.2, 0.1, 0.0], dtype=dtype)
    cases = {
        "kl": (lambda v: L.kl_divergence(p, torch.softmax(v, -1)),
               lambda v: F.kl_div(torch.log_softmax(v, -1), p, reduction="sum")),
        "cross_entropy": (lambda v: L.cross_entropy(p, torch.softmax(v, -1)),
                          lambda v: F.cross_entropy(v[None], p[None])),
        "entropy": (lambda v: L.entropy(torch.softmax(v, -1)),
                    lambda v: -(torch.softmax(v, -1) * torch.log_softmax(v, -1)).sum()),
    }
    for name, (ours, theirs) in cases.items():
        value, grad = grads(ours, z)
        value_t, grad_t = reference(theirs, z)
        torch.testing.assert_close(value, value_t, rtol=32 * torch.finfo(dtype).eps, atol=0.0)
        assert torch.isfinite(grad).all(), f"{name}: gradient {grad}"
        close_grad(grad, grad_t, ulps=32, what=f"{name} gradient")


@pytest.mark.parametrize("dtype", DTYPES)
def test_information_quantities_at_zero_probabilities(dtype):
    """p_i = 0 (and q_i = 0) give a finite value and finite gradients in p and q: 0 for those terms."""
    p = torch.tensor([0.5, 0.5, 0.0, 0.0], dtype=dtype, requires_grad=True)
    q = torch.tensor([0.25, 0.5, 0.25, 0.0], dtype=dtype, requires_grad=True)
    for name, value in [("kl", L.kl_divergence(p, q)), ("cross_entropy", L.cross_entropy(p, q)),
                        ("entropy", L.entropy(p))]:
        inputs = (p, q) if name != "entropy" else (p,)
        for grad, tensor in zip(torch.autograd.grad(value, inputs), inputs):
            assert torch.isfinite(grad).all(), f"{name}: {grad}"
            assert (grad[2:] == 0).all() or tensor is p and name == "cross_entropy"
    # where p > 0: the exact derivatives log(p/q) + 1 (in p) and -p/q (in q)
    grad_p, grad_q = torch.autograd.grad(L.kl_divergence(p, q), (p, q))
    torch.testing.assert_close(grad_p[:2], (p[:2] / q[:2]).log().detach() + 1)
    torch.testing.assert_close(grad_q[:2], -(p[:2] / q[:2]).detach())


# ----------------------------------------------------------------------------------- the scalar engine


@pytest.mark.parametrize("x", POINTS)
def test_scalar_engine(x):
    """Python floats are float64; the engine branches on the sign instead of using abs."""
    for name, torch_fn in [("sigmoid", torch.sigmoid), ("tanh", torch.tanh)]:
        v = scalar_autograd.Value(x)
        out = getattr(v, name)()
        out.backward()
        t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        ref = torch_fn(t)
        ref.backward()
        assert out.data == pytest.approx(ref.item(), rel=1e-15, abs=0)
        assert v.grad == pytest.approx(t.grad.item(), rel=1e-15, abs=1e-300)
    assert backprop.sigmoid(x) == pytest.approx(torch.sigmoid(torch.tensor(x, dtype=torch.float64)).item(),
                                                rel=1e-15, abs=0)
    for target in (0, 1):
        v = scalar_autograd.Value(x)
        loss = scalar_autograd.binary_cross_entropy_with_logit(v, target)
        loss.backward()
        t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        ref = F.binary_cross_entropy_with_logits(t, torch.tensor(float(target), dtype=torch.float64))
        ref.backward()
        assert loss.data == pytest.approx(ref.item(), rel=1e-15, abs=1e-300)
        assert v.grad == pytest.approx(t.grad.item(), rel=1e-15, abs=1e-300)


# ----------------------------------------------------------------------------------- mixtures (logsumexp)


def _torch_mixture(means: torch.Tensor, stds: torch.Tensor, weights: torch.Tensor):
    d = means.shape[1]
    components = torch.distributions.Independent(torch.distributions.Normal(means, stds[:, None].expand(-1, d)), 1)
    return torch.distributions.MixtureSameFamily(torch.distributions.Categorical(weights), components)


MEANS = torch.tensor([[-1.0, 0.5], [2.0, -0.5]], dtype=torch.float64)
STDS = torch.tensor([0.5, 1.5], dtype=torch.float64)
WEIGHTS = torch.tensor([0.3, 0.7], dtype=torch.float64)


def _mixture_points(dtype: torch.dtype) -> torch.Tensor:
    v = points(dtype)
    return torch.stack([v, v.flip(0)], dim=1)                             # (5, 2), includes (1000, -1000)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gaussian_mixture_log_prob_and_score(dtype):
    mixture = score_matching.GaussianMixture(MEANS, STDS, WEIGHTS)
    dist = _torch_mixture(MEANS, STDS, WEIGHTS)
    x = _mixture_points(dtype)
    value, grad = grads(mixture.log_prob, x)
    value_t, grad_t = grads(lambda v: dist.log_prob(v.double()).to(dtype), x)
    torch.testing.assert_close(value, value_t, rtol=8 * torch.finfo(dtype).eps, atol=0.0)
    torch.testing.assert_close(grad, grad_t, rtol=8 * torch.finfo(dtype).eps, atol=0.0)
    torch.testing.assert_close(mixture.score(x), grad_t, rtol=8 * torch.finfo(dtype).eps, atol=0.0)
    torch.testing.assert_close(score_matching.mixture_score(x.double(), MEANS, STDS, WEIGHTS).to(dtype), grad_t,
                               rtol=8 * torch.finfo(dtype).eps, atol=0.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_marginal_log_density_of_a_mixture_path(dtype):
    t = 0.5
    a, b = LinearPath().alpha(torch.tensor(t)), LinearPath().beta(torch.tensor(t))
    dist = _torch_mixture(a * MEANS, torch.sqrt(a**2 * STDS**2 + b**2), WEIGHTS)
    x = _mixture_points(dtype)
    value, grad = grads(lambda v: flow_matching.marginal_log_density_mixture(v, t, MEANS, STDS, WEIGHTS), x)
    value_t, grad_t = grads(lambda v: dist.log_prob(v.double()), x)
    torch.testing.assert_close(value, value_t, rtol=1e-13, atol=0.0)
    torch.testing.assert_close(grad, grad_t.to(grad.dtype), rtol=8 * torch.finfo(dtype).eps, atol=0.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_dimensional_mixtures(dtype):
    weights, means, stds = WEIGHTS.to(dtype), MEANS[:, 0].to(dtype), STDS.to(dtype)
    normal = torch.distributions.Normal(means.double(), stds.double())
    dist = _torch_mixture(MEANS[:, :1], STDS, WEIGHTS)
    x = points(dtype)
    # the mixture CDF flow: z = F(x) and log F'(x); dz/dx = F'(x)
    z, dz = grads(lambda v: flows.mog_cdf_flow(v, weights, means, stds)[0], x)
    log_pdf = flows.mog_cdf_flow(x, weights, means, stds)[1]
    z_t = (WEIGHTS * normal.cdf(x.double()[:, None])).sum(1).to(dtype)
    log_pdf_t = dist.log_prob(x.double()[:, None]).to(dtype)
    torch.testing.assert_close(z, z_t, rtol=8 * torch.finfo(dtype).eps, atol=0.0)
    torch.testing.assert_close(log_pdf, log_pdf_t, rtol=8 * torch.finfo(dtype).eps, atol=0.0)
    torch.testing.assert_close(dz, log_pdf_t.exp(), rtol=8 * torch.finfo(dtype).eps, atol=0.0)
    # the appendix's elementwise mixture: log-density and its gradient (the score)
    mixture = de.GaussianMixture1D(MEANS[:, 0], STDS, WEIGHTS)
    value, grad = grads(mixture.log_density, x)
    value_t, grad_t = grads(lambda v: dist.log_prob(v.double()[:, None]).to(dtype), x)
    torch.testing.assert_close(value, value_t, rtol=8 * torch.finfo(dtype).eps, atol=0.0)
    torch.testing.assert_close(grad, grad_t, rtol=8 * torch.finfo(dtype).eps, atol=0.0)


# ----------------------------------------------------------------------------------- clipping and max pooling


@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_by_global_norm_equals_torch(dtype):
    for scale in (0.0, 1e-8, 1.0, 1000.0):
        grads_in = [scale * points(dtype).clamp(-1, 1) + scale, torch.full((3,), -scale, dtype=dtype)]
        ours, total = regularization.clip_by_global_norm(grads_in, max_norm=1.0)
        params = [torch.zeros_like(g, requires_grad=True) for g in grads_in]
        for param, g in zip(params, grads_in):
            param.grad = g.clone()
        total_t = torch.nn.utils.clip_grad_norm_(params, max_norm=1.0)
        close(total, total_t, what="global norm")
        for mine, param in zip(ours, params):
            close(mine, param.grad, what="clipped gradient")


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_gradient_is_a_valid_subgradient(dtype):
    """Without ties the gradient equals F.max_pool2d's. At a tie ``amax`` splits it evenly among the
    tied maxima while F.max_pool2d routes all of it to one of them; both are subgradients (each
    window's gradient sums to 1)."""
    x = torch.tensor(POINTS[:4], dtype=dtype).reshape(1, 1, 2, 2)
    _, grad = grads(lambda v: convolution.max_pool2d(v, 2), x)
    _, grad_t = grads(lambda v: F.max_pool2d(v, 2), x)
    close(grad, grad_t, what="max-pool gradient without ties")
    tied = torch.zeros(1, 1, 2, 2, dtype=dtype)
    _, grad = grads(lambda v: convolution.max_pool2d(v, 2), tied)
    assert math.isclose(float(grad.sum()), 1.0) and (grad >= 0).all()
