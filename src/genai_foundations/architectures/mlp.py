"""Multilayer perceptrons: the plain one (MLP chapter) and a time-conditioned one (flow and score models).

* :class:`MLP` stacks dense layers :math:`h_{k+1} = f(W_k h_k + b_k)` with a
  chosen activation :math:`f`, optionally with normalisation, residual
  connections (:math:`h_{k+1} = h_k + f(\\dots)` between layers of equal
  width) and dropout; the training-issues chapter switches these on and off.
* :class:`TimeConditionedMLP` is the network :math:`u_\\theta(x, t, y)` that
  the flow-matching and score chapters train on 2-D data: the time
  :math:`t \\in [0, 1]` enters through the sinusoidal embedding of the U-Net
  chapter, and an optional class label through an embedding table with an
  extra *null* label for classifier-free guidance.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from genai_foundations.architectures.unet import sinusoidal_embedding

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "identity": nn.Identity,
}


def make_activation(name: str) -> nn.Module:
    """The activation module called ``name`` (one of :data:`ACTIVATIONS`)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


class DenseBlock(nn.Module):
    """One hidden layer: linear map, optional normalisation, activation, optional dropout."""

    def __init__(self, in_features: int, out_features: int, activation: str = "relu", norm: str | None = None,
                 dropout: float = 0.0, residual: bool = False):
        super().__init__()
        if residual and in_features != out_features:
            raise ValueError(f"a residual layer needs equal widths, got {in_features} -> {out_features}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        norms = {None: nn.Identity, "batch": nn.BatchNorm1d, "layer": nn.LayerNorm}
        if norm not in norms:
            raise ValueError(f"norm must be None, 'batch' or 'layer', got {norm!r}")
        self.linear = nn.Linear(in_features, out_features)
        self.norm = norms[norm](out_features) if norm else nn.Identity()
        self.activation = make_activation(activation)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.residual = residual

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        out = self.dropout(self.activation(self.norm(self.linear(h))))
        return h + out if self.residual else out


class MLP(nn.Module):
    """Dense layers ``in_features -> hidden[0] -> ... -> hidden[-1] -> out_features``.

    The last layer is linear (no activation): it returns regression outputs or
    logits. ``residual=True`` adds the identity path around every hidden layer
    whose input and output widths agree (all but the first when the hidden
    widths are equal).
    """

    def __init__(self, in_features: int, hidden: Sequence[int], out_features: int, activation: str = "relu",
                 norm: str | None = None, residual: bool = False, dropout: float = 0.0):
        super().__init__()
        widths = [in_features, *hidden]
        if min(widths + [out_features]) <= 0:
            raise ValueError(f"layer widths must be positive, got {widths + [out_features]}")
        self.hidden = nn.ModuleList(
            DenseBlock(a, b, activation, norm, dropout, residual=residual and a == b) for a, b in zip(widths[:-1], widths[1:])
        )
        self.out = nn.Linear(widths[-1], out_features)
        self.in_features = in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_features:
            raise ValueError(f"expected inputs with {self.in_features} features in the last dimension, got {tuple(x.shape)}")
        for layer in self.hidden:
            x = layer(x)
        return self.out(x)


class TimeConditionedMLP(nn.Module):
    """:math:`u_\\theta(x, t, y)` for vectors: an MLP on ``[x, embed(t) (+ embed(y))]``.

    ``x`` has shape (B, dim); ``t`` is a scalar or has shape (B,), in [0, 1];
    ``y`` is ``None`` or a (B,) tensor of labels in ``0 .. num_classes``, where
    ``num_classes`` (:attr:`null_label`) means "no label". The output has the
    shape of ``x`` (a vector field, a score or a noise prediction).
    """

    def __init__(self, dim: int = 2, hidden: int = 256, depth: int = 4, time_dim: int = 64,
                 num_classes: int | None = None, activation: str = "silu"):
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self.dim, self.time_dim, self.num_classes = dim, time_dim, num_classes
        self.label_emb = nn.Embedding(num_classes + 1, time_dim) if num_classes is not None else None
        self.net = MLP(dim + time_dim, [hidden] * depth, dim, activation=activation)

    @property
    def null_label(self) -> int:
        """The label index that means "no label" (classifier-free guidance)."""
        if self.num_classes is None:
            raise ValueError("this network is unconditional (num_classes=None), so it has no null label")
        return self.num_classes

    def forward(self, x: torch.Tensor, t: torch.Tensor | float, y: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"expected x of shape (B, {self.dim}), got {tuple(x.shape)}")
        batch = x.shape[0]
        t = torch.as_tensor(t, device=x.device, dtype=torch.float32)
        if t.dim() == 0:
            t = t.expand(batch)
        t = t.reshape(-1)
        if t.shape != (batch,):
            raise ValueError(f"t must be a scalar or have shape ({batch},), got {tuple(t.shape)}")
        emb = sinusoidal_embedding(t, self.time_dim).to(x.dtype)
        if self.label_emb is not None:
            if y is None:
                y = torch.full((batch,), self.null_label, device=x.device, dtype=torch.long)
            if y.shape != (batch,) or y.min() < 0 or y.max() > self.null_label:
                raise ValueError(f"y must be a ({batch},) tensor of labels in 0..{self.null_label} ({self.null_label} = no label)")
            emb = emb + self.label_emb(y.long()).to(x.dtype)
        elif y is not None:
            raise ValueError("this network is unconditional (num_classes=None); pass y=None")
        return self.net(torch.cat([x, emb], dim=1))
