"""Activation functions with their derivatives, and a dense layer written out by hand (MLP chapter).

Everything here is element-wise tensor code, so it runs on whatever device
its inputs live on. The notation follows the chapter:

* a neuron computes :math:`y = f(w^\\top x + b)`; a dense layer stacks
  :math:`m` of them, :math:`y = f(Wx + b)` with :math:`W \\in \\mathbb R^{m \\times n}`;
* :math:`z = Wx + b` is the *pre-activation*, :math:`f` the activation and
  :math:`f'` its derivative, used by the backward pass
  :math:`\\partial L/\\partial z = \\partial L/\\partial y \\odot f'(z)`;
* the softmax :math:`p_i = e^{z_i/T} / \\sum_j e^{z_j/T}` turns logits into a
  categorical distribution; its Jacobian is
  :math:`\\partial p/\\partial z = (\\operatorname{diag}(p) - p p^\\top)/T`.

PyTorch of course has all of these (``torch.relu``, ``torch.sigmoid``,
``torch.softmax``, ``nn.Linear`` and autograd); the unit tests check that the
versions here agree with it.
"""

from __future__ import annotations

from typing import Callable

import torch


#: The slope of leaky ReLU for negative inputs used throughout the book (and by ``torch.nn.LeakyReLU``).
LEAKY_SLOPE = 0.01


def _as_float(x: torch.Tensor, name: str = "x") -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    return x if x.is_floating_point() else x.float()


# --- element-wise activations ------------------------------------------------------------------------------------


def relu(x: torch.Tensor) -> torch.Tensor:
    """ReLU, :math:`f(x) = \\max(0, x)`."""
    x = _as_float(x)
    return torch.where(x > 0, x, torch.zeros_like(x))


def relu_derivative(x: torch.Tensor) -> torch.Tensor:
    """:math:`f'(x) = 1` for :math:`x > 0`, else 0 (at the kink :math:`x = 0` we take 0, as PyTorch does)."""
    x = _as_float(x)
    return (x > 0).to(x.dtype)


def leaky_relu(x: torch.Tensor, slope: float = LEAKY_SLOPE) -> torch.Tensor:
    """Leaky ReLU, :math:`f(x) = x` for :math:`x > 0` and :math:`\\alpha x` otherwise (``slope`` is :math:`\\alpha`)."""
    x = _as_float(x)
    return torch.where(x > 0, x, slope * x)


def leaky_relu_derivative(x: torch.Tensor, slope: float = LEAKY_SLOPE) -> torch.Tensor:
    """:math:`f'(x) = 1` for :math:`x > 0`, else :math:`\\alpha` (including :math:`x = 0`, as PyTorch does)."""
    x = _as_float(x)
    return torch.where(x > 0, torch.ones_like(x), torch.full_like(x, slope))


def _fold(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x >= 0, |x|)``, with :math:`|x|` written as ``where(x >= 0, x, -x)``.

    ``x.abs()`` has the right value, but autograd gives it the subgradient 0 at
    :math:`x = 0`, and a smooth function written through :math:`|x|` would then
    get the derivative 0 there. Written with ``where``, the derivative is
    :math:`\\pm 1` on the same side that the ``where`` of the caller selects, so
    every formula below is differentiated as the branch that produced its value.
    """
    positive = x >= 0
    return positive, torch.where(positive, x, -x)


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Logistic sigmoid :math:`\\sigma(x) = 1/(1 + e^{-x})`, evaluated without overflow, with exact gradients.

    For :math:`x \\ge 0` it uses :math:`1/(1+e^{-x})`; for :math:`x < 0` the
    equal form :math:`e^{x}/(1+e^{x})`. Either way the exponent is
    :math:`-|x| \\le 0`, so :math:`e^{(\\cdot)}` never overflows, and the
    autograd gradient is :math:`\\sigma(1-\\sigma)` everywhere, :math:`1/4` at 0
    (see :func:`_fold`).
    """
    x = _as_float(x)
    positive, a = _fold(x)
    e = torch.exp(-a)                                   # e^{-|x|} in (0, 1]
    return torch.where(positive, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_derivative(x: torch.Tensor) -> torch.Tensor:
    """:math:`\\sigma'(x) = \\sigma(x)\\,(1 - \\sigma(x))`, at most 1/4 (at :math:`x = 0`)."""
    s = sigmoid(x)
    return s * (1.0 - s)


def tanh(x: torch.Tensor) -> torch.Tensor:
    """:math:`\\tanh x = (e^x - e^{-x})/(e^x + e^{-x})`, accurate near 0 and without overflow.

    With :math:`a = |x|` and :math:`m = e^{-2a} - 1` (``expm1``, exact for small
    :math:`a`), :math:`\\tanh a = (1 - e^{-2a})/(1 + e^{-2a}) = -m/(2 + m)`, and
    :math:`\\tanh x = \\pm\\tanh a` with the sign of :math:`x`. The identity
    :math:`\\tanh x = 2\\sigma(2x) - 1` is exact in real numbers but cancels
    near 0 in floating point (:math:`2 \\cdot 0.5000001 - 1`): in float32 it
    returns 0 for :math:`x = 10^{-8}`. Here the relative error stays at a few
    units of rounding for every :math:`x`, and the autograd gradient is
    :math:`1 - \\tanh^2 x` (1 at :math:`x = 0`).
    """
    x = _as_float(x)
    positive, a = _fold(x)
    m = torch.expm1(-2.0 * a)                           # e^{-2|x|} - 1 in (-1, 0]
    t = -m / (2.0 + m)                                  # tanh|x|
    return torch.where(positive, t, -t)


def tanh_derivative(x: torch.Tensor) -> torch.Tensor:
    """:math:`\\tanh'(x) = 1 - \\tanh^2 x`, at most 1 (at :math:`x = 0`)."""
    t = tanh(x)
    return 1.0 - t * t


def identity(x: torch.Tensor) -> torch.Tensor:
    """:math:`f(x) = x` (the output layer of a regression network or of logits)."""
    return _as_float(x)


def identity_derivative(x: torch.Tensor) -> torch.Tensor:
    """:math:`f'(x) = 1`."""
    return torch.ones_like(_as_float(x))


#: name -> (f, f') for the element-wise activations of the chapter.
ELEMENTWISE: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]] = {
    "relu": (relu, relu_derivative),
    "leaky_relu": (leaky_relu, leaky_relu_derivative),
    "sigmoid": (sigmoid, sigmoid_derivative),
    "tanh": (tanh, tanh_derivative),
    "identity": (identity, identity_derivative),
}


def _check_name(name: str) -> None:
    if name not in ELEMENTWISE:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ELEMENTWISE)}")


def activation(name: str, x: torch.Tensor) -> torch.Tensor:
    """:math:`f(x)` for the element-wise activation called ``name`` (a key of :data:`ELEMENTWISE`)."""
    _check_name(name)
    return ELEMENTWISE[name][0](x)


def activation_derivative(name: str, x: torch.Tensor) -> torch.Tensor:
    """:math:`f'(x)` for the element-wise activation called ``name``, element by element.

    relu: :math:`[x > 0]`; leaky_relu: 1 for :math:`x > 0`, else 0.01;
    sigmoid: :math:`\\sigma(x)(1-\\sigma(x))`; tanh: :math:`1 - \\tanh^2 x`;
    identity: 1.
    """
    _check_name(name)
    return ELEMENTWISE[name][1](x)


# --- softmax -----------------------------------------------------------------------------------------------------


def softmax(z: torch.Tensor, temperature: float = 1.0, dim: int = -1) -> torch.Tensor:
    """:math:`p_i = e^{z_i/T} / \\sum_j e^{z_j/T}` along ``dim``, computed stably.

    Subtracting :math:`\\max_j z_j/T` from every logit first changes nothing
    (the factor cancels between numerator and denominator) but makes the
    largest exponent :math:`e^0 = 1`, so nothing overflows. The shift is a
    constant of the formula, so it is detached: no gradient flows through the
    maximum (whose derivative is split among tied logits).
    """
    z = _as_float(z, "z")
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    if z.dim() == 0:
        raise ValueError("softmax needs at least one dimension (a vector of logits)")
    scaled = z / temperature
    shifted = scaled - scaled.amax(dim=dim, keepdim=True).detach()
    e = torch.exp(shifted)
    return e / e.sum(dim=dim, keepdim=True)


def log_softmax(z: torch.Tensor, temperature: float = 1.0, dim: int = -1) -> torch.Tensor:
    """:math:`\\log p_i = z_i/T - \\log\\sum_j e^{z_j/T}` with the log-sum-exp computed stably."""
    z = _as_float(z, "z")
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    scaled = z / temperature
    top = scaled.amax(dim=dim, keepdim=True).detach()  # a constant shift; see softmax
    return scaled - top - torch.log(torch.exp(scaled - top).sum(dim=dim, keepdim=True))


def softmax_jacobian(z: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """The softmax Jacobian :math:`J_{ij} = \\partial p_i/\\partial z_j = p_i(\\delta_{ij} - p_j)/T`.

    In matrix form :math:`J = (\\operatorname{diag}(p) - pp^\\top)/T`.

    ``z`` has shape (n,) or (B, n) (softmax over the last dimension); the
    result has shape (n, n) or (B, n, n).
    """
    z = _as_float(z, "z")
    if z.dim() not in (1, 2):
        raise ValueError(f"expected logits of shape (n,) or (B, n), got {tuple(z.shape)}")
    p = softmax(z, temperature)
    return (torch.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)) / temperature


def softmax_backward(z: torch.Tensor, grad_p: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """:math:`\\partial L/\\partial z = J^\\top g = p \\odot (g - \\langle g, p\\rangle)/T`.

    Here :math:`g = \\partial L/\\partial p`; the product with the Jacobian is formed without
    building the :math:`C \\times C` matrix :math:`J`.
    """
    p = softmax(z, temperature)
    if grad_p.shape != p.shape:
        raise ValueError(f"grad_p must have the shape of z {tuple(p.shape)}, got {tuple(grad_p.shape)}")
    return p * (grad_p - (grad_p * p).sum(dim=-1, keepdim=True)) / temperature


# --- a dense layer by hand ---------------------------------------------------------------------------------------

DENSE_ACTIVATIONS = (*ELEMENTWISE, "softmax")


def _check_dense(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, name: str) -> None:
    if name not in DENSE_ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(DENSE_ACTIVATIONS)}")
    if weight.dim() != 2:
        raise ValueError(f"weight must be a matrix of shape (out_features, in_features), got {tuple(weight.shape)}")
    if bias.shape != (weight.shape[0],):
        raise ValueError(f"bias must have shape ({weight.shape[0]},) to match weight, got {tuple(bias.shape)}")
    if x.dim() != 2 or x.shape[1] != weight.shape[1]:
        raise ValueError(f"x must have shape (batch, {weight.shape[1]}), got {tuple(x.shape)}")


def dense_forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, activation_name: str = "relu") -> torch.Tensor:
    """A dense layer on a batch: :math:`y = f(Wx + b)` for every row :math:`x` of ``x`` (shape (B, n)).

    ``weight`` is :math:`W` with shape (m, n) (the layout of ``nn.Linear``),
    ``bias`` is :math:`b` with shape (m,); the result has shape (B, m). In
    batch form the rows are computed at once as :math:`Z = XW^\\top + b`.
    """
    _check_dense(x, weight, bias, activation_name)
    z = x @ weight.T + bias
    return softmax(z) if activation_name == "softmax" else activation(activation_name, z)


def dense_backward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, grad_out: torch.Tensor,
                   activation_name: str = "relu") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of a dense layer given :math:`G = \\partial L/\\partial Y` (shape (B, m)).

    With :math:`Z = XW^\\top + b` and :math:`\\Delta = \\partial L/\\partial Z`
    (:math:`G \\odot f'(Z)` for an element-wise :math:`f`; the softmax
    Jacobian applied row by row for ``"softmax"``)::

        dL/dX = Delta W        (B, n)
        dL/dW = Delta^T X      (m, n)
        dL/db = sum_rows Delta (m,)

    Returns ``(grad_x, grad_weight, grad_bias)``.
    """
    _check_dense(x, weight, bias, activation_name)
    z = x @ weight.T + bias
    if grad_out.shape != z.shape:
        raise ValueError(f"grad_out must have the layer's output shape {tuple(z.shape)}, got {tuple(grad_out.shape)}")
    if activation_name == "softmax":
        delta = softmax_backward(z, grad_out)
    else:
        delta = grad_out * activation_derivative(activation_name, z)
    return delta @ weight, delta.T @ x, delta.sum(dim=0)


class Dense:
    """A dense layer :math:`y = f(Wx + b)` with a hand-written backward pass (no autograd).

    ``forward`` stores its input; ``backward(grad_out)`` then fills
    :attr:`grad_weight` and :attr:`grad_bias` and returns
    :math:`\\partial L/\\partial x`. ``step(lr)`` does one gradient-descent update.
    The weights start like ``nn.Linear``'s: uniform on
    :math:`[-1/\\sqrt{n}, 1/\\sqrt{n}]` for ``n`` inputs.
    """

    def __init__(self, in_features: int, out_features: int, activation_name: str = "relu",
                 device: torch.device | str = "cpu", generator: torch.Generator | None = None,
                 dtype: torch.dtype = torch.float32):
        if in_features <= 0 or out_features <= 0:
            raise ValueError(f"layer widths must be positive, got {in_features} -> {out_features}")
        if activation_name not in DENSE_ACTIVATIONS:
            raise ValueError(f"unknown activation {activation_name!r}; expected one of {sorted(DENSE_ACTIVATIONS)}")
        bound = in_features ** -0.5
        gen_device = generator.device if generator is not None else "cpu"
        self.weight = ((torch.rand(out_features, in_features, generator=generator, device=gen_device, dtype=dtype) * 2 - 1)
                       * bound).to(device)
        bias = torch.rand(out_features, generator=generator, device=gen_device, dtype=dtype)
        self.bias = ((bias * 2 - 1) * bound).to(device)
        self.activation_name = activation_name
        self.grad_weight: torch.Tensor | None = None
        self.grad_bias: torch.Tensor | None = None
        self._input: torch.Tensor | None = None

    @property
    def num_parameters(self) -> int:
        """:math:`mn + m` (weights plus biases)."""
        return self.weight.numel() + self.bias.numel()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._input = x
        return dense_forward(x, self.weight, self.bias, self.activation_name)

    __call__ = forward

    def backward(self, grad_out: torch.Tensor) -> torch.Tensor:
        if self._input is None:
            raise RuntimeError("call forward before backward")
        grad_x, self.grad_weight, self.grad_bias = dense_backward(self._input, self.weight, self.bias, grad_out,
                                                                  self.activation_name)
        return grad_x

    def step(self, lr: float) -> None:
        """One gradient-descent step: :math:`W \\leftarrow W - \\eta\\, \\partial L/\\partial W`, same for :math:`b`."""
        if self.grad_weight is None or self.grad_bias is None:
            raise RuntimeError("call backward before step")
        self.weight = self.weight - lr * self.grad_weight
        self.bias = self.bias - lr * self.grad_bias

    def to_torch(self) -> torch.nn.Linear:
        """An ``nn.Linear`` holding the same :math:`W` and :math:`b` (the activation is not included)."""
        linear = torch.nn.Linear(self.weight.shape[1], self.weight.shape[0], device=self.weight.device,
                                 dtype=self.weight.dtype)
        with torch.no_grad():
            linear.weight.copy_(self.weight)
            linear.bias.copy_(self.bias)
        return linear
