"""Normalizing flows (chapter 1): densities by change of variables, samples by inversion.

Notation: data :math:`x`, latent :math:`z = f_\\theta(x)` of the same dimension
:math:`D`, base density :math:`p_z` (a standard normal unless stated). The flow's density is

.. math:: \\log p_\\theta(x) = \\log p_z(f_\\theta(x)) + \\log\\Big\\lvert\\det\\frac{\\partial f_\\theta(x)}{\\partial x}\\Big\\rvert ,

and for a composition :math:`f = f_K \\circ \\dots \\circ f_1` the log-determinants add,
:math:`\\log|\\det J_f| = \\sum_k \\log|\\det J_{f_k}(h_{k-1})|` with :math:`h_0 = x`,
:math:`h_k = f_k(h_{k-1})`. Sampling draws :math:`z \\sim p_z` and returns :math:`x = f^{-1}(z)`.

This module holds the pieces that use the layers of :mod:`.flow_layers` (which
it re-exports): base distributions, :class:`FlowSequence`, the flow NLL, the
mixture-of-Gaussians CDF flow in 1-D with inversion by bisection,
dequantisation and bits per dimension, and ready-made flows for the chapter.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable, Sequence

import torch
from torch import nn

from genai_foundations.algorithms.flow_layers import (
    ActNorm,
    AffineCoupling,
    AutoregressiveAffineFlow,
    FlowLayer,
    Invertible1x1Conv,
    LogitTransform,
    MADE,
    MaskedLinear,
    Permutation,
    Squeeze,
    affine_coupling_forward,
    affine_coupling_inverse,
    alternating_masks,
    checkerboard_mask,
    conv_conditioner,
    mlp,
    soft_clamp,
)

__all__ = [
    "ActNorm", "AffineCoupling", "AutoregressiveAffineFlow", "FlowLayer", "FlowSequence", "Invertible1x1Conv",
    "LogitTransform", "MADE", "MaskedLinear", "MoGCDFFlow1D", "Permutation", "Squeeze", "StandardNormal", "StandardUniform",
    "affine_coupling_forward", "affine_coupling_inverse", "alternating_masks", "bisection_inverse",
    "checkerboard_mask", "conv_conditioner", "dequantize", "digits_flow", "flow_nll", "flow_nll_bits_per_dim", "maf_2d", "mlp",
    "jacobian_logdet", "mog_cdf_flow", "pixel_histogram_bits_per_dim", "randomize_parameters", "realnvp_2d",
    "soft_clamp",
]

LOG_2PI = math.log(2 * math.pi)


# ---------------------------------------------------------------------------------------------------------------
# Base distributions
# ---------------------------------------------------------------------------------------------------------------
def _draw(kind: str, shape: tuple[int, ...], generator: torch.Generator | None,
          device: torch.device | str | None) -> torch.Tensor:
    """Uniform or normal float32 numbers, drawn on the generator's device and moved to ``device``."""
    fn = torch.randn if kind == "normal" else torch.rand
    if generator is None:
        return fn(shape, device=device)
    return fn(shape, generator=generator, device=generator.device).to(device)


class StandardNormal(nn.Module):
    """:math:`p_z = \\mathcal N(0, I)` on examples of shape ``event_shape``.

    :math:`\\log p_z(z) = -\\tfrac12 \\lVert z\\rVert^2 - \\tfrac D2 \\log 2\\pi`, summed over all non-batch dimensions.
    """

    def __init__(self, event_shape: int | Sequence[int]):
        super().__init__()
        self.event_shape = (event_shape,) if isinstance(event_shape, int) else tuple(event_shape)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        if tuple(z.shape[1:]) != self.event_shape:
            raise ValueError(f"expected z of shape (B, {self.event_shape}), got {tuple(z.shape)}")
        return -0.5 * (z**2 + LOG_2PI).flatten(1).sum(dim=1)

    def sample(self, n: int, generator: torch.Generator | None = None,
               device: torch.device | str | None = None) -> torch.Tensor:
        return _draw("normal", (n, *self.event_shape), generator, device)


class StandardUniform(nn.Module):
    """:math:`p_z = \\mathcal U(0, 1)^D`: log-density 0 inside the unit cube, :math:`-\\infty` outside.

    ``event_shape=()`` gives the scalar uniform used by the 1-D CDF flow (inputs of shape (B,)).
    """

    def __init__(self, event_shape: int | Sequence[int] = ()):
        super().__init__()
        self.event_shape = (event_shape,) if isinstance(event_shape, int) else tuple(event_shape)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        if tuple(z.shape[1:]) != self.event_shape:
            raise ValueError(f"expected z of shape (B, {self.event_shape}), got {tuple(z.shape)}")
        inside = ((z >= 0) & (z <= 1)).reshape(z.shape[0], -1).all(dim=1)
        return torch.where(inside, 0.0, -math.inf).to(z.dtype)

    def sample(self, n: int, generator: torch.Generator | None = None,
               device: torch.device | str | None = None) -> torch.Tensor:
        return _draw("uniform", (n, *self.event_shape), generator, device)


# ---------------------------------------------------------------------------------------------------------------
# Composition
# ---------------------------------------------------------------------------------------------------------------
def flow_nll(x: torch.Tensor, layers: Iterable[Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]]) -> torch.Tensor:
    """Mean negative log-likelihood (nats per example) of a flow with a standard normal base.

    Pushes ``x`` through ``layers`` in order (each returns ``(h, logdet)``), adds the
    log-dets and evaluates the base density at the end:

    .. math:: \\text{NLL} = -\\frac1B \\sum_{b} \\Big[\\log \\mathcal N(z_b; 0, I) + \\sum_k \\log\\lvert\\det J_{f_k}\\rvert_b\\Big].
    """
    h = x
    total = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    for layer in layers:
        h, logdet = layer(h)
        total = total + logdet
    log_pz = -0.5 * (h**2 + LOG_2PI).flatten(1).sum(dim=1)
    return -(log_pz + total).mean()


class FlowSequence(nn.Module):
    """A composition of flow layers with a base distribution.

    ``flow(x) -> (z, logdet)`` applies the layers in order (data to latent) and
    sums their log-dets; ``inverse(z)`` undoes them in reverse order;
    ``log_prob(x)`` is :math:`\\log p_z(z) + \\sum_k \\log|\\det J_k|`; ``sample(n)`` is
    ``inverse(base.sample(n))``.
    """

    def __init__(self, layers: Sequence[nn.Module], base: nn.Module):
        super().__init__()
        if len(layers) == 0:
            raise ValueError("a flow needs at least one layer")
        self.layers = nn.ModuleList(layers)
        self.base = base

    @property
    def device(self) -> torch.device:
        for tensor in list(self.parameters()) + list(self.buffers()):
            return tensor.device
        return torch.device("cpu")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        total = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for layer in self.layers:
            x, logdet = layer(x)
            total = total + logdet
        return x, total

    def trace(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``[x, h_1, ..., h_K = z]``: the data after each layer (for figures)."""
        out = [x]
        for layer in self.layers:
            x, _ = layer(x)
            out.append(x)
        return out

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        return z

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`\\log p_\\theta(x)` per example, shape (B,)."""
        z, logdet = self(x)
        return self.base.log_prob(z) + logdet

    def nll(self, x: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood in nats per example (the training loss)."""
        return -self.log_prob(x).mean()

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` samples :math:`x = f^{-1}(z)`, :math:`z \\sim p_z`, on the flow's device."""
        return self.inverse(self.base.sample(n, generator, self.device))


# ---------------------------------------------------------------------------------------------------------------
# Checking flows: perturbed parameters and the autograd Jacobian
# ---------------------------------------------------------------------------------------------------------------
def randomize_parameters(module: nn.Module, scale: float = 0.3, seed: int = 0) -> nn.Module:
    """Add ``scale`` times standard normal noise to every parameter, in place; returns ``module``.

    The package's flows start as the identity map (zero last layers), which
    would make checks of inverses and log-dets trivial; this makes them bite.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype).to(p.device))
    return module


def jacobian_logdet(fn: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]], x: torch.Tensor) -> torch.Tensor:
    """:math:`\\log\\lvert\\det \\partial z / \\partial x\\rvert` for each example of ``x``, from the full autograd Jacobian.

    ``fn`` is a flow layer (``fn(x) -> (z, logdet)``). Costs one Jacobian of
    size D x D per example: for checks on small dimensions (use float64).
    """
    out = []
    for example in x:
        def z_of(v: torch.Tensor, shape=example.shape) -> torch.Tensor:
            return fn(v.reshape(1, *shape))[0].reshape(-1)

        jac = torch.autograd.functional.jacobian(z_of, example.reshape(-1))
        out.append(torch.linalg.slogdet(jac)[1])
    return torch.stack(out)


# ---------------------------------------------------------------------------------------------------------------
# 1-D flows as CDFs
# ---------------------------------------------------------------------------------------------------------------
def mog_cdf_flow(x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor,
                 stds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The CDF of a mixture of Gaussians as a 1-D flow, with its log-derivative.

    .. math:: z = F(x) = \\sum_k w_k\\, \\Phi\\Big(\\frac{x - \\mu_k}{\\sigma_k}\\Big), \\qquad
              \\log \\frac{dz}{dx} = \\log f(x) = \\log \\sum_k \\frac{w_k}{\\sigma_k}\\, \\varphi\\Big(\\frac{x - \\mu_k}{\\sigma_k}\\Big)

    ``x`` has shape (B,); ``weights`` (summing to 1), ``means`` and ``stds`` have
    shape (K,). The derivative is computed in log space (``logsumexp``) so that
    it stays finite far in the tails. Rounding can leave the sum a unit in the last place
    outside [0, 1] (the weights may sum to 1 + 1 ulp), so the *value* of ``z`` is clamped,
    but its gradient is the gradient of the unclamped sum: ``torch.clamp`` would return a
    zero gradient wherever ``z`` lands on 0 or 1 exactly, which happens in float32 from
    about 5.3 standard deviations above the top component on, where the true derivative
    :math:`f(x)` is still positive. Returns ``(z, logdet)``, both of shape (B,).
    """
    if x.dim() != 1:
        raise ValueError(f"x must have shape (B,), got {tuple(x.shape)}")
    if not (weights.dim() == means.dim() == stds.dim() == 1 and weights.shape == means.shape == stds.shape):
        raise ValueError(f"weights, means and stds must share one shape (K,), got "
                         f"{tuple(weights.shape)}, {tuple(means.shape)}, {tuple(stds.shape)}")
    u = (x[:, None] - means) / stds
    raw = (weights * torch.special.ndtr(u)).sum(dim=1)
    z = raw + (raw.clamp(0.0, 1.0) - raw).detach()   # the clamped value, with the gradient of the smooth sum
    log_pdf = torch.logsumexp(torch.log(weights) - torch.log(stds) - 0.5 * (u**2 + LOG_2PI), dim=1)
    return z, log_pdf


@torch.no_grad()
def bisection_inverse(fn: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor, low: float, high: float,
                      iterations: int = 60) -> torch.Tensor:
    """Solve :math:`F(x) = z` elementwise for an increasing ``fn`` by bisection on [``low``, ``high``].

    Each iteration halves every bracket, so after ``n`` iterations the error is
    at most :math:`(\\text{high} - \\text{low}) / 2^n` (or the float resolution).
    """
    if not low < high:
        raise ValueError(f"need low < high, got {low}, {high}")
    lo = torch.full_like(z, low)
    hi = torch.full_like(z, high)
    for _ in range(iterations):
        mid = (lo + hi) / 2
        below = fn(mid) < z
        lo = torch.where(below, mid, lo)
        hi = torch.where(below, hi, mid)
    return (lo + hi) / 2


class MoGCDFFlow1D(FlowLayer):
    """A learnable 1-D flow :math:`z = F(x)`, the CDF of a K-component Gaussian mixture (see :func:`mog_cdf_flow`).

    It maps the real line onto (0, 1); with the uniform base
    (:class:`StandardUniform` with ``event_shape=()``) the density of the flow is
    :math:`p_\\theta(x) = 1 \\cdot F'(x) = f(x)`, the mixture's own density, so maximum
    likelihood fits the mixture, and after training :math:`F(x)` of data is close
    to uniform. The inverse has no closed form and uses :func:`bisection_inverse`.
    Inputs have shape (B,).
    """

    def __init__(self, num_components: int = 5, means: torch.Tensor | None = None, std: float = 1.0):
        super().__init__()
        if num_components < 1:
            raise ValueError(f"num_components must be positive, got {num_components}")
        if means is None:
            means = torch.linspace(-2, 2, num_components) if num_components > 1 else torch.zeros(1)
        means = torch.as_tensor(means, dtype=torch.float32)
        if means.shape != (num_components,):
            raise ValueError(f"means must have shape ({num_components},), got {tuple(means.shape)}")
        self.logits = nn.Parameter(torch.zeros(num_components))
        self.means = nn.Parameter(means.clone())
        self.log_stds = nn.Parameter(torch.full((num_components,), math.log(std)))

    def mixture(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The current ``(weights, means, stds)``."""
        return torch.softmax(self.logits, dim=0), self.means, torch.exp(self.log_stds)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        weights, means, stds = self.mixture()
        return mog_cdf_flow(x, weights.to(x.dtype), means.to(x.dtype), stds.to(x.dtype))

    def inverse(self, z: torch.Tensor, iterations: int = 60) -> torch.Tensor:
        _, means, stds = (v.detach() for v in self.mixture())
        low = float((means - 12 * stds).min())       # the mixture has (almost) no mass beyond 12 sigma
        high = float((means + 12 * stds).max())
        return bisection_inverse(lambda x: self(x)[0], z, low, high, iterations)


# ---------------------------------------------------------------------------------------------------------------
# Discrete data: dequantisation and bits per dimension
# ---------------------------------------------------------------------------------------------------------------
def dequantize(values: torch.Tensor, levels: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Uniform dequantisation: integers :math:`k \\in \\{0..L-1\\}` become :math:`y = (k + u) / L`, :math:`u \\sim \\mathcal U[0, 1)`.

    Each value fills its own bin of width :math:`1/L` in [0, 1), so a continuous density
    on :math:`y` defines a distribution over the integers (see :func:`flow_nll_bits_per_dim`).
    """
    if levels < 2:
        raise ValueError(f"levels must be at least 2, got {levels}")
    if bool(((values < 0) | (values > levels - 1) | (values != values.round())).any()):
        raise ValueError(f"values must be integers in 0..{levels - 1} (use value_range='raw' for the digits)")
    noise = _draw("uniform", tuple(values.shape), generator, values.device)
    return (values + noise) / levels


def flow_nll_bits_per_dim(log_prob: torch.Tensor, num_dims: int, bin_width: float = 1.0) -> torch.Tensor:
    """Negative log-likelihood in bits per dimension of the *discrete* data, per example.

    ``log_prob`` is a log-density (nats) of dequantised data, where each discrete
    value owns a bin of width ``bin_width`` in every dimension (``1 / L`` after
    :func:`dequantize`). Since :math:`P(k) = \\int_{\\text{bin}} p(y)\\,dy \\ge` (Jensen) the
    uniform-dequantisation bound :math:`\\exp E_u[\\log p(y)] \\cdot w^D`,

    .. math:: \\text{bits/dim} = \\frac{-\\log p(y) - D \\log w}{D \\ln 2}

    is (in expectation over the dequantisation noise) an upper bound on
    :math:`-\\log_2 P(k) / D`, in the same units as any discrete model.
    """
    if num_dims < 1 or bin_width <= 0:
        raise ValueError(f"need num_dims >= 1 and bin_width > 0, got {num_dims}, {bin_width}")
    return (-log_prob - num_dims * math.log(bin_width)) / (num_dims * math.log(2))


def pixel_histogram_bits_per_dim(train: torch.Tensor, test: torch.Tensor, levels: int,
                                 smoothing: float = 1.0) -> torch.Tensor:
    """Bits per dimension of an *independent* per-pixel categorical model, per test example.

    For every dimension j, :math:`P_j(k) = (n_{jk} + a) / (N + L a)` from the training counts
    :math:`n_{jk}` (Laplace smoothing :math:`a`); the test NLL is :math:`-\\sum_j \\log_2 P_j(k_j) / D`.
    ``train`` and ``test`` hold integers in 0..L-1, shape (N, ...).
    """
    if smoothing <= 0:
        raise ValueError(f"smoothing must be positive (a zero count would give infinite bits), got {smoothing}")
    tr = train.reshape(len(train), -1).long()
    te = test.reshape(len(test), -1).long()
    if tr.shape[1] != te.shape[1]:
        raise ValueError(f"train and test examples differ in size: {tr.shape[1]} and {te.shape[1]}")
    if int(tr.min()) < 0 or int(te.min()) < 0 or int(tr.max()) >= levels or int(te.max()) >= levels:
        raise ValueError(f"values must be integers in 0..{levels - 1}")
    counts = torch.zeros(tr.shape[1], levels, dtype=torch.float64, device=tr.device)
    counts.scatter_add_(1, tr.T, torch.ones(tr.T.shape, dtype=torch.float64, device=tr.device))
    log_p = torch.log((counts + smoothing) / (len(tr) + levels * smoothing))
    nll = -log_p.gather(1, te.T).T.sum(dim=1)
    return nll / (tr.shape[1] * math.log(2))


# ---------------------------------------------------------------------------------------------------------------
# Ready-made flows of the chapter
# ---------------------------------------------------------------------------------------------------------------
def realnvp_2d(num_couplings: int = 8, hidden: int = 64, num_hidden_layers: int = 2,
               scale_bound: float = 3.0) -> FlowSequence:
    """RealNVP for 2-D data: ``num_couplings`` affine couplings with masks [1, 0], [0, 1], ...

    Each coupling changes one coordinate as an affine function of the other,
    so consecutive pairs can transform both; a standard normal base.
    """
    layers = [AffineCoupling(mask, hidden=hidden, num_hidden_layers=num_hidden_layers, scale_bound=scale_bound)
              for mask in alternating_masks(2, num_couplings)]
    return FlowSequence(layers, StandardNormal(2))


def maf_2d(num_layers: int = 6, hidden: int = 64, num_hidden_layers: int = 2,
           scale_bound: float = 3.0) -> FlowSequence:
    """A stack of affine autoregressive layers for 2-D data, alternating the order (x1, x2) and (x2, x1)."""
    layers = [AutoregressiveAffineFlow(2, hidden, num_hidden_layers, order=[0, 1] if i % 2 == 0 else [1, 0],
                                       scale_bound=scale_bound) for i in range(num_layers)]
    return FlowSequence(layers, StandardNormal(2))


def digits_flow(num_checkerboard: int = 4, num_channel: int = 6, hidden: int = 32, alpha: float = 0.05,
                scale_bound: float = 3.0, image_size: int = 8) -> FlowSequence:
    """A small RealNVP/Glow-style flow for dequantised 1-channel images in [0, 1] (8x8 digits by default).

    1. :class:`LogitTransform` (to the real line);
    2. ``num_checkerboard`` blocks of :class:`ActNorm` and an :class:`AffineCoupling`
       with alternating checkerboard masks at full resolution;
    3. :class:`Squeeze` to (4, H/2, W/2);
    4. ``num_channel`` blocks of :class:`ActNorm`, :class:`Invertible1x1Conv` and an
       :class:`AffineCoupling` that keeps channels 0-1, then 2-3, ...

    All conditioners are small CNNs (:func:`conv_conditioner`); the base is a standard
    normal on (4, H/2, W/2). ``flow(x)`` takes (B, 1, H, W); ``sample`` returns that shape.
    """
    if image_size % 2:
        raise ValueError(f"image_size must be even (the flow squeezes 2x2 patches), got {image_size}")
    layers: list[nn.Module] = [LogitTransform(alpha)]
    for i in range(num_checkerboard):
        layers += [ActNorm(1), AffineCoupling(checkerboard_mask(image_size, image_size, 1, parity=i % 2),
                                              conv_conditioner(1, hidden), scale_bound=scale_bound)]
    layers.append(Squeeze())
    half = image_size // 2
    channel_mask = torch.zeros(4, half, half)
    channel_mask[:2] = 1
    for i in range(num_channel):
        mask = channel_mask if i % 2 == 0 else 1 - channel_mask
        layers += [ActNorm(4), Invertible1x1Conv(4),
                   AffineCoupling(mask, conv_conditioner(4, hidden), scale_bound=scale_bound)]
    return FlowSequence(layers, StandardNormal((4, half, half)))
