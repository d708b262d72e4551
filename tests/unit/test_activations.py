"""The hand-written activations, their derivatives, the softmax Jacobian and the dense layer against PyTorch."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from genai_foundations.architectures import activations as act

TORCH_VERSIONS = {
    "relu": torch.relu,
    "leaky_relu": lambda x: F.leaky_relu(x, negative_slope=act.LEAKY_SLOPE),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "identity": lambda x: x,
}


def inputs(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = 4 * torch.randn(200, generator=g, dtype=torch.float64)
    # include the kink and very large magnitudes
    return torch.cat([x, torch.tensor([0.0, -0.0, 1e-12, -1e-12, 30.0, -30.0, 700.0, -700.0], dtype=torch.float64)])


@pytest.mark.parametrize("name", sorted(act.ELEMENTWISE))
def test_activation_equals_torch(name):
    x = inputs()
    torch.testing.assert_close(act.activation(name, x), TORCH_VERSIONS[name](x), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", sorted(act.ELEMENTWISE))
def test_derivative_equals_autograd(name):
    x = inputs(1).requires_grad_(True)
    (grad,) = torch.autograd.grad(TORCH_VERSIONS[name](x).sum(), x)
    torch.testing.assert_close(act.activation_derivative(name, x.detach()), grad, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", sorted(act.ELEMENTWISE))
def test_autograd_through_the_package_functions_equals_torch(name, dtype):
    """Differentiating the package's f with autograd must give f', also at x = 0 (where a formula
    written with abs(x) gets the subgradient 0: the old sigmoid and tanh returned 0 instead of 1/4 and 1)."""
    x = torch.cat([inputs(2).to(dtype), torch.tensor([0.0, 1e-8, -1e-8, 1000.0, -1000.0], dtype=dtype)])
    leaf = x.clone().requires_grad_(True)
    (ours,) = torch.autograd.grad(act.activation(name, leaf).sum(), leaf)
    leaf_t = x.double().requires_grad_(True)
    (theirs,) = torch.autograd.grad(TORCH_VERSIONS[name](leaf_t).sum(), leaf_t)
    torch.testing.assert_close(ours, theirs.to(dtype), rtol=8 * torch.finfo(dtype).eps, atol=4 * torch.finfo(dtype).eps)
    if name == "sigmoid":
        assert ours[-5].item() == 0.25
    if name == "tanh":
        assert ours[-5].item() == 1.0


def test_tanh_is_accurate_near_zero_in_float32():
    """2 sigma(2x) - 1 cancels: it returns 0 for x = 1e-8 and is 7 % off at 1e-6 in float32."""
    x = torch.tensor([1e-8, 1e-6, 1e-4, -1e-7], dtype=torch.float32)
    relative = ((act.tanh(x) - torch.tanh(x)) / torch.tanh(x)).abs()
    assert relative.max() < 4 * torch.finfo(torch.float32).eps
    cancelling = 2 * act.sigmoid(2 * x) - 1
    assert cancelling[0] == 0 and ((cancelling[1] - 1e-6) / 1e-6).abs() > 0.05


def test_closed_form_derivatives():
    x = torch.linspace(-5, 5, 101, dtype=torch.float64)
    s, t = torch.sigmoid(x), torch.tanh(x)
    torch.testing.assert_close(act.sigmoid_derivative(x), s * (1 - s))
    torch.testing.assert_close(act.tanh_derivative(x), 1 - t**2)
    assert act.sigmoid_derivative(torch.tensor(0.0)).item() == pytest.approx(0.25)
    assert act.relu_derivative(torch.tensor([0.0])).item() == 0.0
    assert act.leaky_relu_derivative(torch.tensor([-1.0, 0.0, 2.0])).tolist() == pytest.approx([0.01, 0.01, 1.0])


def test_sigmoid_does_not_overflow():
    x = torch.tensor([-1000.0, -100.0, 0.0, 100.0, 1000.0])
    s = act.sigmoid(x)
    assert torch.isfinite(s).all()
    assert s[0] == 0 and s[-1] == 1 and s[2] == 0.5


@pytest.mark.parametrize("temperature", [1.0, 0.25, 3.0])
def test_softmax_equals_torch(temperature):
    g = torch.Generator().manual_seed(2)
    z = 5 * torch.randn(7, 11, generator=g, dtype=torch.float64)
    torch.testing.assert_close(act.softmax(z, temperature), torch.softmax(z / temperature, dim=-1))
    torch.testing.assert_close(act.softmax(z, temperature, dim=0), torch.softmax(z / temperature, dim=0))
    torch.testing.assert_close(act.log_softmax(z, temperature), torch.log_softmax(z / temperature, dim=-1))


def test_softmax_is_stable_and_shift_invariant():
    z = torch.tensor([1000.0, 1001.0, 1002.0])
    p = act.softmax(z)
    assert torch.isfinite(p).all()
    torch.testing.assert_close(p, act.softmax(z - 1000.0))
    assert p.sum().item() == pytest.approx(1.0)


def test_softmax_temperature_limits():
    z = torch.tensor([2.0, 1.0, 0.5], dtype=torch.float64)
    torch.testing.assert_close(act.softmax(z, 1e-3), torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(act.softmax(z, 1e4), torch.full((3,), 1 / 3, dtype=torch.float64), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="temperature"):
        act.softmax(z, 0.0)


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_softmax_jacobian_equals_autograd(temperature):
    g = torch.Generator().manual_seed(3)
    z = torch.randn(6, generator=g, dtype=torch.float64)
    expected = torch.autograd.functional.jacobian(lambda v: torch.softmax(v / temperature, dim=-1), z)
    torch.testing.assert_close(act.softmax_jacobian(z, temperature), expected)
    batch = torch.randn(4, 5, generator=g, dtype=torch.float64)
    jac = act.softmax_jacobian(batch, temperature)
    assert jac.shape == (4, 5, 5)
    for i in range(4):
        expected = torch.autograd.functional.jacobian(lambda v: torch.softmax(v / temperature, dim=-1), batch[i])
        torch.testing.assert_close(jac[i], expected)
    # rows of J sum to 0: the probabilities always sum to 1
    torch.testing.assert_close(jac.sum(-1), torch.zeros(4, 5, dtype=torch.float64))


def test_softmax_backward_is_jacobian_transpose_times_gradient():
    g = torch.Generator().manual_seed(4)
    z, grad = torch.randn(3, 6, generator=g, dtype=torch.float64), torch.randn(3, 6, generator=g, dtype=torch.float64)
    expected = torch.einsum("bij,bi->bj", act.softmax_jacobian(z), grad)
    torch.testing.assert_close(act.softmax_backward(z, grad), expected)


@pytest.mark.parametrize("name", [*sorted(act.ELEMENTWISE), "softmax"])
def test_dense_layer_equals_linear_and_autograd(name):
    g = torch.Generator().manual_seed(5)
    x = torch.randn(8, 5, generator=g, dtype=torch.float64)
    layer = act.Dense(5, 3, name, generator=g, dtype=torch.float64)
    linear = layer.to_torch()
    f = (lambda z: torch.softmax(z, -1)) if name == "softmax" else TORCH_VERSIONS[name]
    x_leaf = x.clone().requires_grad_(True)
    y_torch = f(linear(x_leaf))
    y = layer(x)
    torch.testing.assert_close(y, y_torch.detach())
    upstream = torch.randn(8, 3, generator=g, dtype=torch.float64)
    (y_torch * upstream).sum().backward()
    grad_x = layer.backward(upstream)
    torch.testing.assert_close(grad_x, x_leaf.grad)
    torch.testing.assert_close(layer.grad_weight, linear.weight.grad)
    torch.testing.assert_close(layer.grad_bias, linear.bias.grad)


def test_dense_step_lowers_a_loss_and_counts_parameters():
    g = torch.Generator().manual_seed(6)
    x, target = torch.randn(32, 4, generator=g), torch.randn(32, 2, generator=g)
    layer = act.Dense(4, 2, "identity", generator=g)
    assert layer.num_parameters == 4 * 2 + 2
    losses = []
    for _ in range(20):
        y = layer(x)
        losses.append(((y - target) ** 2).mean().item())
        layer.backward(2 * (y - target) / y.numel())
        layer.step(0.5)
    assert losses[-1] < 0.9 * losses[0]


def test_bad_inputs_raise_clear_errors():
    w, b = torch.zeros(3, 4), torch.zeros(3)
    with pytest.raises(ValueError, match="unknown activation"):
        act.activation("swish", torch.zeros(2))
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 4\)"):
        act.dense_forward(torch.zeros(2, 5), w, b)
    with pytest.raises(ValueError, match="bias must have shape"):
        act.dense_forward(torch.zeros(2, 4), w, torch.zeros(4))
    with pytest.raises(ValueError, match="grad_out"):
        act.dense_backward(torch.zeros(2, 4), w, b, torch.zeros(2, 4))
    with pytest.raises(ValueError, match="logits of shape"):
        act.softmax_jacobian(torch.zeros(2, 3, 4))
    with pytest.raises(RuntimeError, match="forward before backward"):
        act.Dense(2, 2).backward(torch.zeros(1, 2))
