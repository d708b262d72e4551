"""Generators and discriminators for the GAN chapter (chapter 8).

Two families:

* :class:`MLPGenerator` / :class:`MLPDiscriminator` map 2-D toy data: the
  generator :math:`G_\\theta: z \\mapsto x` with :math:`z \\sim \\mathcal N(0, I)`,
  the discriminator :math:`D_\\phi: x \\mapsto \\ell` returns a *logit*
  :math:`\\ell` (so :math:`D(x) = \\sigma(\\ell)`; a WGAN critic reads the same
  number as a score). Both can hold ``members`` independent networks that are
  evaluated side by side (:class:`EnsembleLinear`), so that several seeds of a
  small experiment train in one batched pass; with ``members = 1`` they are
  ordinary MLPs taking ``(B, d)`` inputs.
* :class:`DCGANGenerator` / :class:`DCGANDiscriminator` are the all-convolutional
  networks of Radford et al. (2016): strided transposed convolutions with
  batch normalisation and ReLU up, strided convolutions with LeakyReLU down,
  kernel 4 and no biases before a normalisation. ``channels`` fixes the depth
  and the image size (``4 * 2 ** len(channels)``); the default is the
  64x64 configuration of the chapter's parameter table. ``num_classes > 0``
  makes either network conditional (Mirza and Osindero, 2014): the generator
  reads ``[z, onehot(y)]``, the discriminator the image with ``num_classes``
  one-hot planes appended.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["EnsembleLinear", "MLPGenerator", "MLPDiscriminator", "DCGANGenerator", "DCGANDiscriminator",
           "count_parameters", "layer_table"]


class EnsembleLinear(nn.Module):
    """``members`` independent affine maps :math:`h_m \\mapsto W_m h_m + b_m` applied in one batched product.

    Input ``(members, B, in_features)``, output ``(members, B, out_features)``.
    Each member is initialised like ``nn.Linear`` (uniform in
    :math:`\\pm 1/\\sqrt{\\text{in}}`), so member :math:`m` is an ordinary linear layer.
    """

    def __init__(self, members: int, in_features: int, out_features: int):
        super().__init__()
        if members < 1 or in_features < 1 or out_features < 1:
            raise ValueError(f"members, in_features and out_features must be positive, got "
                             f"{members}, {in_features}, {out_features}")
        bound = 1 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(members, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(members, 1, out_features).uniform_(-bound, bound))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if h.dim() != 3 or h.shape[0] != self.weight.shape[0] or h.shape[2] != self.weight.shape[1]:
            raise ValueError(f"expected input (members={self.weight.shape[0]}, B, {self.weight.shape[1]}), "
                             f"got {tuple(h.shape)}")
        return torch.baddbmm(self.bias, h, self.weight)


class _EnsembleMLP(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, hidden: int, depth: int, activation: str, members: int):
        super().__init__()
        if depth < 1 or hidden < 1:
            raise ValueError(f"depth and hidden must be positive, got depth={depth}, hidden={hidden}")
        acts = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2), "tanh": nn.Tanh, "silu": nn.SiLU}
        if activation not in acts:
            raise ValueError(f"activation must be one of {sorted(acts)}, got {activation!r}")
        widths = [in_dim] + [hidden] * depth + [out_dim]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(EnsembleLinear(members, a, b))
            if i < len(widths) - 2:
                layers.append(acts[activation]())
        self.net = nn.Sequential(*layers)
        self.members, self.in_dim = members, in_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        single = x.dim() == 2
        if single:
            if self.members != 1:
                raise ValueError(f"a network with {self.members} members expects (members, B, {self.in_dim}) "
                                 f"inputs, got {tuple(x.shape)}")
            x = x.unsqueeze(0)
        if x.dim() != 3 or x.shape[-1] != self.in_dim:
            raise ValueError(f"expected inputs (B, {self.in_dim}) or (members, B, {self.in_dim}), got {tuple(x.shape)}")
        out = self.net(x)
        return out.squeeze(0) if single else out


class MLPGenerator(_EnsembleMLP):
    """:math:`G_\\theta(z)`: an MLP from the latent ``z`` (``latent_dim``) to a point in ``data_dim`` dimensions.

    ``depth`` hidden layers of width ``hidden``; the output is linear (no
    squashing), since the toy data are not bounded.
    """

    def __init__(self, latent_dim: int = 2, data_dim: int = 2, hidden: int = 128, depth: int = 3,
                 activation: str = "relu", members: int = 1):
        super().__init__(latent_dim, data_dim, hidden, depth, activation, members)
        self.latent_dim = latent_dim


class MLPDiscriminator(_EnsembleMLP):
    """:math:`D_\\phi(x)` as a logit: an MLP from ``data_dim`` to one number per point (shape ``(..., B)``)."""

    def __init__(self, data_dim: int = 2, hidden: int = 128, depth: int = 3, activation: str = "leaky_relu",
                 members: int = 1):
        super().__init__(data_dim, 1, hidden, depth, activation, members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x).squeeze(-1)


def _check_channels(channels: Sequence[int]) -> tuple[int, ...]:
    channels = tuple(int(c) for c in channels)
    if not channels or any(c < 1 for c in channels):
        raise ValueError(f"channels must be a non-empty sequence of positive ints, got {channels}")
    return channels


class DCGANGenerator(nn.Module):
    """DCGAN generator :math:`G_\\theta(z)`: ``(B, latent_dim)`` to images ``(B, out_channels, S, S)`` in ``[-1, 1]``.

    Layer 1 is a transposed convolution (kernel 4, stride 1) from the
    :math:`1\\times1` latent to a :math:`4\\times4` map with ``channels[0]``
    channels; every further layer (kernel 4, stride 2, padding 1) doubles the
    size and moves to the next entry of ``channels``; the last one goes to
    ``out_channels`` followed by tanh. Batch normalisation and ReLU follow every
    layer but the last; convolutions have no bias. ``extra_layers`` adds
    3x3 stride-1 blocks at the last hidden resolution. With ``num_classes > 0``
    the input is :math:`[z, \\mathrm{onehot}(y)]`. ``S = 4 * 2 ** len(channels)``.
    """

    def __init__(self, latent_dim: int = 100, channels: Sequence[int] = (512, 256, 128, 64), out_channels: int = 1,
                 extra_layers: int = 0, num_classes: int = 0):
        super().__init__()
        channels = _check_channels(channels)
        if latent_dim < 1 or out_channels < 1 or extra_layers < 0 or num_classes < 0:
            raise ValueError("latent_dim and out_channels must be positive, extra_layers and num_classes >= 0")
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.image_size = 4 * 2 ** len(channels)
        layers: list[nn.Module] = [nn.Unflatten(1, (latent_dim + num_classes, 1, 1)),
                                   nn.ConvTranspose2d(latent_dim + num_classes, channels[0], 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(channels[0]), nn.ReLU()]
        for c_in, c_out in zip(channels[:-1], channels[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
        for _ in range(extra_layers):
            layers += [nn.Conv2d(channels[-1], channels[-1], 3, 1, 1, bias=False), nn.BatchNorm2d(channels[-1]),
                       nn.ReLU()]
        layers += [nn.ConvTranspose2d(channels[-1], out_channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected z of shape (B, {self.latent_dim}), got {tuple(z.shape)}")
        if self.num_classes:
            if y is None or y.shape != (z.shape[0],):
                raise ValueError(f"a conditional generator needs labels y of shape ({z.shape[0]},)")
            z = torch.cat([z, F.one_hot(y.long(), self.num_classes).to(z.dtype)], dim=1)
        elif y is not None:
            raise ValueError("this generator is unconditional (num_classes=0) but labels were given")
        return self.net(z)


class DCGANDiscriminator(nn.Module):
    """DCGAN discriminator :math:`D_\\phi(x)`: images ``(B, in_channels, S, S)`` to one logit per image ``(B,)``.

    Strided convolutions (kernel 4, stride 2, padding 1, no bias) halve the
    size from ``S`` to 4 through ``channels``; batch normalisation on all but
    the first, LeakyReLU(0.2) and optional dropout after each; ``extra_layers``
    3x3 blocks at 4x4; a last 4x4 convolution to one number. With
    ``num_classes > 0`` the input gets ``num_classes`` one-hot planes.
    ``batch_norm=False`` (for WGAN-GP critics, whose penalty is per example).
    """

    def __init__(self, in_channels: int = 1, channels: Sequence[int] = (64, 128, 256, 512), extra_layers: int = 0,
                 dropout: float = 0.0, num_classes: int = 0, batch_norm: bool = True):
        super().__init__()
        channels = _check_channels(channels)
        if in_channels < 1 or extra_layers < 0 or num_classes < 0 or not 0.0 <= dropout < 1.0:
            raise ValueError("in_channels must be positive, extra_layers and num_classes >= 0, dropout in [0, 1)")
        self.in_channels, self.num_classes = in_channels, num_classes
        self.image_size = 4 * 2 ** len(channels)

        def block(c_in: int, c_out: int, kernel: int, stride: int, padding: int, norm: bool) -> list[nn.Module]:
            out: list[nn.Module] = [nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False)]
            out += [nn.BatchNorm2d(c_out)] if norm and batch_norm else []
            out += [nn.LeakyReLU(0.2)] + ([nn.Dropout(dropout)] if dropout > 0 else [])
            return out

        layers = block(in_channels + num_classes, channels[0], 4, 2, 1, norm=False)
        for c_in, c_out in zip(channels[:-1], channels[1:]):
            layers += block(c_in, c_out, 4, 2, 1, norm=True)
        for _ in range(extra_layers):
            layers += block(channels[-1], channels[-1], 3, 1, 1, norm=True)
        layers += [nn.Conv2d(channels[-1], 1, 4, 1, 0, bias=False), nn.Flatten(0)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        expected = (self.in_channels, self.image_size, self.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"expected images of shape (B, {', '.join(map(str, expected))}), got {tuple(x.shape)}")
        if self.num_classes:
            if y is None or y.shape != (x.shape[0],):
                raise ValueError(f"a conditional discriminator needs labels y of shape ({x.shape[0]},)")
            planes = F.one_hot(y.long(), self.num_classes).to(x.dtype)[:, :, None, None]
            x = torch.cat([x, planes.expand(-1, -1, x.shape[2], x.shape[3])], dim=1)
        elif y is not None:
            raise ValueError("this discriminator is unconditional (num_classes=0) but labels were given")
        return self.net(x)


def count_parameters(model: nn.Module, *, with_running_stats: bool = False) -> int:
    """Number of trainable parameters; ``with_running_stats`` adds batch norm's running mean and variance.

    Keras' ``model.summary()`` lists the running statistics as non-trainable
    parameters (4 per channel for a batch norm layer); PyTorch keeps them as
    buffers (2 parameters per channel). This option gives the Keras count.
    """
    total = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if with_running_stats:
        total += sum(b.numel() for name, b in model.named_buffers() if name.endswith(("running_mean", "running_var")))
    return total


def layer_table(model: nn.Module, example: torch.Tensor | tuple[torch.Tensor, ...]) -> list[dict]:
    """One row per leaf layer of ``model.net`` with its name, output shape and parameter counts.

    ``example`` is passed through the model once (in eval mode, no gradients);
    each row has ``layer`` (class name), ``shape`` (output shape without the
    batch axis), ``params`` (trainable) and ``keras_params`` (with batch
    norm's running statistics, the convention of Keras summaries).
    """
    rows: list[dict] = []
    hooks = []
    for module in model.net:
        def hook(mod, _inp, out, rows=rows):
            rows.append({"layer": type(mod).__name__, "shape": tuple(out.shape[1:]),
                         "params": count_parameters(mod),
                         "keras_params": count_parameters(mod, with_running_stats=True)})
        hooks.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(*example) if isinstance(example, tuple) else model(example)
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return rows
