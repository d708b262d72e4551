"""The invertible layers of chapter 1 (normalizing flows).

Every layer maps data towards the latent space and reports how much it
stretches volume there:

* ``layer(x) -> (z, logdet)`` with ``logdet`` of shape (B,) equal to
  :math:`\\log\\lvert\\det \\partial z / \\partial x\\rvert` for each example,
* ``layer.inverse(z) -> x``, the exact inverse (used for sampling).

The layers:

* :class:`AffineCoupling` (RealNVP): with a binary ``mask`` :math:`m` (1 = passed through),
  :math:`z = m \\odot x + (1-m) \\odot \\big(x \\odot e^{s(m \\odot x)} + t(m \\odot x)\\big)`,
  log-det :math:`\\sum (1-m) \\odot s` (:func:`affine_coupling_forward`, :func:`affine_coupling_inverse`);
* :class:`AutoregressiveAffineFlow` (MAF-style): :math:`z_i = x_i e^{s_i(x_{<i})} + t_i(x_{<i})`
  with :math:`s, t` from one masked network (:class:`MADE`); log-det :math:`\\sum_i s_i`;
* :class:`Invertible1x1Conv` (Glow): :math:`z_{:,h,w} = W x_{:,h,w}` at every pixel,
  log-det :math:`H W \\log\\lvert\\det W\\rvert` (optionally with :math:`W = P L (U + \\operatorname{diag}(s))`);
* :class:`ActNorm` (Glow): per-channel affine map with data-dependent initialisation;
* :class:`Permutation` and :class:`Squeeze`: reorder the numbers (log-det 0);
* :class:`LogitTransform`: maps (0, 1) to the real line, used after dequantisation.

Scales :math:`s` are soft-clamped, :math:`s = b \\tanh(\\tilde s / b)`, so that one
layer can never stretch a dimension by more than :math:`e^{b}`; the last layer
of every conditioner starts at zero, so each coupling starts as the identity.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn


Conditioner = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


class FlowLayer(nn.Module):
    """Base class: ``forward(x) -> (z, logdet)`` (data to latent) and ``inverse(z) -> x``."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def inverse(self, z: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


def _check_features(x: torch.Tensor, shape: Sequence[int], name: str) -> None:
    if x.dim() != len(shape) + 1 or tuple(x.shape[1:]) != tuple(shape):
        raise ValueError(f"{name} expects input of shape (B, {', '.join(map(str, shape))}), got {tuple(x.shape)}")


def soft_clamp(raw: torch.Tensor, bound: float) -> torch.Tensor:
    """:math:`b \\tanh(\\tilde s / b)`: the identity near 0, never beyond :math:`\\pm b`."""
    return bound * torch.tanh(raw / bound)


def mlp(in_features: int, out_features: int, hidden: int = 64, num_hidden_layers: int = 2,
        zero_last: bool = True) -> nn.Sequential:
    """A plain MLP with ReLU activations; with ``zero_last`` its output starts at exactly 0."""
    if num_hidden_layers < 1 or hidden < 1:
        raise ValueError(f"need hidden >= 1 and num_hidden_layers >= 1, got {hidden}, {num_hidden_layers}")
    layers: list[nn.Module] = []
    width = in_features
    for _ in range(num_hidden_layers):
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    last = nn.Linear(width, out_features)
    if zero_last:
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
    return nn.Sequential(*layers, last)


# ---------------------------------------------------------------------------------------------------------------
# Affine coupling (RealNVP)
# ---------------------------------------------------------------------------------------------------------------
def conv_conditioner(channels: int, hidden: int = 32, kernel_size: int = 3) -> nn.Sequential:
    """A small CNN conditioner for image couplings: (B, C, H, W) to (B, 2C, H, W), last layer zero.

    Convolutions share their weights across positions, which suits images and
    overfits far less than an MLP on the flattened pixels.
    """
    if kernel_size % 2 != 1:
        raise ValueError(f"kernel_size must be odd (to keep H and W), got {kernel_size}")
    pad = kernel_size // 2
    last = nn.Conv2d(hidden, 2 * channels, kernel_size, padding=pad)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return nn.Sequential(nn.Conv2d(channels, hidden, kernel_size, padding=pad), nn.ReLU(),
                         nn.Conv2d(hidden, hidden, 1), nn.ReLU(), last)


def _check_mask(x: torch.Tensor, mask: torch.Tensor) -> None:
    if tuple(mask.shape) != tuple(x.shape[1:]):
        raise ValueError(f"mask must have the shape of one example {tuple(x.shape[1:])}, got {tuple(mask.shape)}")


def affine_coupling_forward(x: torch.Tensor, mask: torch.Tensor,
                            conditioner: Conditioner) -> tuple[torch.Tensor, torch.Tensor]:
    """RealNVP's affine coupling, data to latent, with its log-determinant.

    With the binary ``mask`` :math:`m` (1 marks the dimensions :math:`x_{1:d}` that pass
    unchanged) and ``(s, t) = conditioner(m * x)`` (each of the shape of ``x``):

    .. math:: z = m \\odot x + (1 - m) \\odot \\big(x \\odot e^{s} + t\\big), \\qquad
              \\log\\lvert\\det \\tfrac{\\partial z}{\\partial x}\\rvert = \\sum_j (1 - m_j)\\, s_j .

    The Jacobian is triangular (after sorting the dimensions by the mask), with
    ones on the diagonal where :math:`m = 1` and :math:`e^{s_j}` where :math:`m = 0`.
    Returns ``(z, logdet)``, ``logdet`` of shape (B,).
    """
    _check_mask(x, mask)
    keep = mask.to(x.dtype)
    change = 1 - keep
    s, t = conditioner(x * keep)
    s, t = s * change, t * change
    z = x * keep + change * (x * torch.exp(s) + t)
    return z, s.flatten(1).sum(dim=1)


def affine_coupling_inverse(z: torch.Tensor, mask: torch.Tensor, conditioner: Conditioner) -> torch.Tensor:
    """The exact inverse of :func:`affine_coupling_forward`.

    The kept part :math:`z_{1:d} = x_{1:d}` gives the same ``(s, t) = conditioner(m * z)`` as in
    the forward pass, so :math:`x = m \\odot z + (1 - m) \\odot (z - t) \\odot e^{-s}`.
    """
    _check_mask(z, mask)
    keep = mask.to(z.dtype)
    change = 1 - keep
    s, t = conditioner(z * keep)
    return z * keep + change * (z - t) * torch.exp(-s * change)


def alternating_masks(dim: int, count: int, kind: str = "half") -> list[torch.Tensor]:
    """``count`` binary masks of length ``dim`` that alternate which dimensions they keep.

    ``kind="half"`` keeps the first half, then the second half, ...; ``kind="parity"``
    keeps the even positions, then the odd ones. In 2-D both give [1, 0], [0, 1], ...
    """
    if dim < 2:
        raise ValueError(f"a coupling layer needs at least 2 dimensions, got {dim}")
    base = torch.zeros(dim)
    if kind == "half":
        base[: dim // 2] = 1
    elif kind == "parity":
        base[::2] = 1
    else:
        raise ValueError(f"kind must be 'half' or 'parity', got {kind!r}")
    return [base if i % 2 == 0 else 1 - base for i in range(count)]


def checkerboard_mask(height: int, width: int, channels: int = 1, parity: int = 0) -> torch.Tensor:
    """RealNVP's spatial checkerboard mask of shape (channels, height, width)."""
    rows = torch.arange(height)[:, None]
    cols = torch.arange(width)[None, :]
    board = ((rows + cols + parity) % 2 == 0).float()
    return board.expand(channels, height, width).clone()


class AffineCoupling(FlowLayer):
    """An affine coupling layer (see :func:`affine_coupling_forward`).

    ``mask`` has the shape of one example, e.g. (D,) for vectors or (C, H, W)
    for images. The ``conditioner`` network takes the masked input and returns
    ``2 * mask.numel()`` numbers per example, read as the raw scale
    :math:`\\tilde s` and the shift :math:`t`; the scale is soft-clamped to
    :math:`s = b \\tanh(\\tilde s / b)` with ``b = scale_bound``. Without a
    conditioner (vectors only), an MLP with ``hidden`` units and a zero last layer is built.
    """

    def __init__(self, mask: torch.Tensor, conditioner: nn.Module | None = None, hidden: int = 64,
                 num_hidden_layers: int = 2, scale_bound: float = 3.0):
        super().__init__()
        mask = torch.as_tensor(mask, dtype=torch.float32)
        if not ((mask == 0) | (mask == 1)).all():
            raise ValueError("mask must contain only 0s and 1s")
        if mask.sum() == 0 or mask.sum() == mask.numel():
            raise ValueError("mask must keep some dimensions and change the others (it is all 0s or all 1s)")
        if scale_bound <= 0:
            raise ValueError(f"scale_bound must be positive, got {scale_bound}")
        if conditioner is None:
            if mask.dim() != 1:
                raise ValueError("for masks of shape (C, H, W) pass a conditioner network (e.g. convolutions)")
            conditioner = mlp(mask.numel(), 2 * mask.numel(), hidden, num_hidden_layers)
        self.register_buffer("mask", mask)
        self.conditioner = conditioner
        self.scale_bound = scale_bound

    def scale_and_shift(self, x_masked: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(s, t)`` for the masked input, each of its shape; ``s`` is soft-clamped."""
        raw = self.conditioner(x_masked).reshape(x_masked.shape[0], 2, *self.mask.shape)
        return soft_clamp(raw[:, 0], self.scale_bound), raw[:, 1]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return affine_coupling_forward(x, self.mask, self.scale_and_shift)

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        return affine_coupling_inverse(z, self.mask, self.scale_and_shift)


# ---------------------------------------------------------------------------------------------------------------
# Autoregressive flow (MADE masks)
# ---------------------------------------------------------------------------------------------------------------
class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 mask of shape (out, in)."""

    def __init__(self, in_features: int, out_features: int, mask: torch.Tensor):
        super().__init__(in_features, out_features)
        if tuple(mask.shape) != (out_features, in_features):
            raise ValueError(f"mask must have shape ({out_features}, {in_features}), got {tuple(mask.shape)}")
        self.register_buffer("mask", mask.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """A masked autoencoder (Germain et al., 2015): output ``i`` depends only on inputs before ``i``.

    Each input gets a *degree*, its position in ``order`` (1..D); hidden units
    get degrees in 1..D-1; a connection is allowed from degree :math:`a` to a hidden unit of degree
    :math:`b` when :math:`b \\ge a`, and from a hidden unit of degree :math:`b` to output :math:`i`
    when :math:`\\deg(i) > b`. Every path from :math:`x_j` to output :math:`i` therefore has
    :math:`\\deg(j) < \\deg(i)`. Returns ``outputs_per_dim`` numbers per dimension, shape
    (B, outputs_per_dim, D). The last layer starts at zero.
    """

    def __init__(self, dim: int, hidden: int = 64, num_hidden_layers: int = 2, outputs_per_dim: int = 2,
                 order: Sequence[int] | torch.Tensor | None = None):
        super().__init__()
        if dim < 1 or hidden < 1 or num_hidden_layers < 1 or outputs_per_dim < 1:
            raise ValueError("dim, hidden, num_hidden_layers and outputs_per_dim must all be positive")
        order = torch.arange(dim) if order is None else torch.as_tensor(order, dtype=torch.long)
        if sorted(order.tolist()) != list(range(dim)):
            raise ValueError(f"order must be a permutation of 0..{dim - 1}, got {order.tolist()}")
        degree_in = torch.empty(dim, dtype=torch.long)
        degree_in[order] = torch.arange(1, dim + 1)
        self.dim, self.outputs_per_dim = dim, outputs_per_dim
        self.register_buffer("order", order)
        layers: list[nn.Module] = []
        previous = degree_in
        for _ in range(num_hidden_layers):
            degree_hidden = torch.arange(hidden) % max(dim - 1, 1) + 1
            layers += [MaskedLinear(len(previous), hidden, (degree_hidden[:, None] >= previous[None, :])), nn.ReLU()]
            previous = degree_hidden
        degree_out = degree_in.repeat(outputs_per_dim)
        last = MaskedLinear(len(previous), outputs_per_dim * dim, degree_out[:, None] > previous[None, :])
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*layers, last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_features(x, (self.dim,), "MADE")
        return self.net(x).reshape(x.shape[0], self.outputs_per_dim, self.dim)


class AutoregressiveAffineFlow(FlowLayer):
    """An affine autoregressive flow: :math:`z_i = x_i\\, e^{s_i(x_{<i})} + t_i(x_{<i})`.

    "Before" is defined by ``order`` (default 0, 1, ..., D-1). The Jacobian
    :math:`\\partial z / \\partial x` is triangular in that order with diagonal
    :math:`e^{s_i}`, so the log-det is :math:`\\sum_i s_i`. The forward pass
    (density evaluation) is one network call; the inverse (sampling) needs D
    calls, one per dimension, because :math:`x_i` needs :math:`x_{<i}` first.
    """

    def __init__(self, dim: int, hidden: int = 64, num_hidden_layers: int = 2,
                 order: Sequence[int] | torch.Tensor | None = None, scale_bound: float = 3.0):
        super().__init__()
        self.made = MADE(dim, hidden, num_hidden_layers, outputs_per_dim=2, order=order)
        self.scale_bound = scale_bound

    def scale_and_shift(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raw = self.made(x)
        return soft_clamp(raw[:, 0], self.scale_bound), raw[:, 1]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, t = self.scale_and_shift(x)
        return x * torch.exp(s) + t, s.sum(dim=1)

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        _check_features(z, (self.made.dim,), "AutoregressiveAffineFlow")
        x = torch.zeros_like(z)
        for i in self.made.order.tolist():          # x_i needs x_{<i}: one network call per dimension
            s, t = self.scale_and_shift(x)
            solved = (z[:, i] - t[:, i]) * torch.exp(-s[:, i])
            x = torch.cat([x[:, :i], solved[:, None], x[:, i + 1:]], dim=1)
        return x


# ---------------------------------------------------------------------------------------------------------------
# Glow: invertible 1x1 convolution and actnorm
# ---------------------------------------------------------------------------------------------------------------
def _pixels(x: torch.Tensor, channels: int, name: str) -> int:
    """Number of spatial positions of a (B, C) or (B, C, H, W) input (1 for vectors)."""
    if x.dim() not in (2, 4) or x.shape[1] != channels:
        raise ValueError(f"{name} expects (B, {channels}) or (B, {channels}, H, W), got {tuple(x.shape)}")
    return 1 if x.dim() == 2 else x.shape[2] * x.shape[3]


def _per_channel(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.reshape(1, -1, *([1] * (like.dim() - 2)))


class Invertible1x1Conv(FlowLayer):
    """Glow's invertible 1x1 convolution: the same C x C matrix mixes the channels at every pixel.

    .. math:: z_{:,h,w} = W x_{:,h,w}, \\qquad \\log\\lvert\\det \\tfrac{\\partial z}{\\partial x}\\rvert = H\\, W \\log\\lvert\\det W\\rvert

    (:math:`H W = 1` for (B, C) vectors, where it is simply an invertible linear
    layer). ``W`` starts as a random rotation. With ``lu=True`` it is stored as
    :math:`W = P L (U + \\operatorname{diag}(\\sigma e^{\\log|s|}))` with a fixed permutation
    :math:`P`, unit lower-triangular :math:`L`, strictly upper-triangular :math:`U` and fixed signs
    :math:`\\sigma`, which makes :math:`\\log\\lvert\\det W\\rvert = \\sum \\log|s|` cost O(C)
    instead of O(C^3).
    """

    def __init__(self, channels: int, lu: bool = True, generator: torch.Generator | None = None):
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be positive, got {channels}")
        self.channels, self.lu = channels, lu
        weight, _ = torch.linalg.qr(torch.randn(channels, channels, generator=generator))
        if lu:
            p, lower, upper = torch.linalg.lu(weight)
            diag = torch.diagonal(upper)
            self.register_buffer("p", p)
            self.register_buffer("sign_s", torch.sign(diag))
            self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1))
            self.lower = nn.Parameter(lower * self.lower_mask)
            self.upper = nn.Parameter(torch.triu(upper, 1))
            self.log_s = nn.Parameter(diag.abs().log())
        else:
            self.weight = nn.Parameter(weight)

    def matrix(self) -> torch.Tensor:
        """The current C x C matrix W."""
        if not self.lu:
            return self.weight
        eye = torch.eye(self.channels, device=self.log_s.device, dtype=self.log_s.dtype)
        lower = self.lower * self.lower_mask + eye
        upper = torch.triu(self.upper, 1) + torch.diag(self.sign_s * torch.exp(self.log_s))
        return self.p @ lower @ upper

    def log_abs_det(self) -> torch.Tensor:
        """:math:`\\log\\lvert\\det W\\rvert` (a scalar)."""
        if self.lu:
            return self.log_s.sum()
        return torch.linalg.slogdet(self.weight)[1]

    @staticmethod
    def _mix(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        w = w.to(x.dtype)
        return x @ w.T if x.dim() == 2 else torch.einsum("ij,bjhw->bihw", w, x)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pixels = _pixels(x, self.channels, "Invertible1x1Conv")
        logdet = (pixels * self.log_abs_det()).to(x.dtype)
        return self._mix(self.matrix(), x), logdet.expand(x.shape[0])

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        _pixels(z, self.channels, "Invertible1x1Conv")
        w = self.matrix()
        if w.device.type != "mps":  # invert in double precision where the device has it
            w = w.double()
        return self._mix(torch.linalg.inv(w), z)


class ActNorm(FlowLayer):
    """Glow's activation normalisation: :math:`z = (x + b) \\odot e^{\\log s}` per channel.

    On the first forward pass in training mode, :math:`b` and :math:`\\log s` are set so
    that this batch leaves with zero mean and unit variance per channel; after
    that they are ordinary parameters. Log-det :math:`H\\, W \\sum_c \\log s_c`.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.bias = nn.Parameter(torch.zeros(channels))
        self.log_scale = nn.Parameter(torch.zeros(channels))
        self.register_buffer("initialized", torch.tensor(False))

    @torch.no_grad()
    def _initialize(self, x: torch.Tensor) -> None:
        values = x.transpose(0, 1).reshape(self.channels, -1)
        self.bias.copy_(-values.mean(dim=1))
        self.log_scale.copy_(-torch.log(values.std(dim=1) + 1e-6))
        self.initialized.fill_(True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pixels = _pixels(x, self.channels, "ActNorm")
        if self.training and not bool(self.initialized):
            self._initialize(x)
        z = (x + _per_channel(self.bias, x)) * _per_channel(torch.exp(self.log_scale), x)
        return z, (pixels * self.log_scale.sum()).to(x.dtype).expand(x.shape[0])

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        _pixels(z, self.channels, "ActNorm")
        return z * _per_channel(torch.exp(-self.log_scale), z) - _per_channel(self.bias, z)


# ---------------------------------------------------------------------------------------------------------------
# Fixed layers
# ---------------------------------------------------------------------------------------------------------------
class Permutation(FlowLayer):
    """Reorders the dimensions of (B, D) vectors: :math:`z = x_{\\pi}`; a permutation has :math:`|\\det| = 1`."""

    def __init__(self, permutation: Sequence[int] | torch.Tensor):
        super().__init__()
        perm = torch.as_tensor(permutation, dtype=torch.long)
        if sorted(perm.tolist()) != list(range(len(perm))):
            raise ValueError(f"not a permutation of 0..{len(perm) - 1}: {perm.tolist()}")
        self.register_buffer("perm", perm)
        self.register_buffer("inverse_perm", torch.argsort(perm))

    @classmethod
    def reverse(cls, dim: int) -> "Permutation":
        return cls(torch.arange(dim - 1, -1, -1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_features(x, (len(self.perm),), "Permutation")
        return x[:, self.perm], x.new_zeros(x.shape[0])

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        _check_features(z, (len(self.perm),), "Permutation")
        return z[:, self.inverse_perm]


class Squeeze(FlowLayer):
    """Space-to-depth: (B, C, H, W) to (B, 4C, H/2, W/2), each 2x2 patch becomes 4 channels (log-det 0).

    It only moves numbers around, so it is a permutation. Afterwards a channel
    mask or a 1x1 convolution can mix neighbouring pixels.
    """

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 4 or x.shape[2] % 2 or x.shape[3] % 2:
            raise ValueError(f"Squeeze expects (B, C, H, W) with even H and W, got {tuple(x.shape)}")
        return F.pixel_unshuffle(x, 2), x.new_zeros(x.shape[0])

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 4 or z.shape[1] % 4:
            raise ValueError(f"Squeeze.inverse expects (B, 4C, H, W), got {tuple(z.shape)}")
        return F.pixel_shuffle(z, 2)


class LogitTransform(FlowLayer):
    """Maps data in (0, 1) to the real line: :math:`z = \\operatorname{logit}(\\alpha + (1 - 2\\alpha) y)`.

    The margin :math:`\\alpha` keeps values away from 0 and 1, where the logit is
    infinite (RealNVP uses 0.05). With :math:`u = \\alpha + (1-2\\alpha) y`, each
    dimension contributes :math:`\\log(1-2\\alpha) - \\log u - \\log(1-u)` to the log-det.
    """

    def __init__(self, alpha: float = 0.05):
        super().__init__()
        if not 0 <= alpha < 0.5:
            raise ValueError(f"alpha must lie in [0, 0.5), got {alpha}")
        self.alpha = alpha

    def forward(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if bool(((y < 0) | (y > 1)).any()):
            raise ValueError("LogitTransform expects data in [0, 1] (dequantize and rescale first)")
        u = self.alpha + (1 - 2 * self.alpha) * y
        z = torch.log(u) - torch.log1p(-u)
        logdet = (math.log(1 - 2 * self.alpha) - torch.log(u) - torch.log1p(-u)).flatten(1).sum(dim=1)
        return z, logdet

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        return (torch.sigmoid(z) - self.alpha) / (1 - 2 * self.alpha)
