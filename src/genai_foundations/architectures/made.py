"""MADE: a masked autoencoder whose outputs are the chain rule's conditionals (Germain et al., 2015).

For D binary inputs in an ordering, every unit gets a *degree*: input d has
degree :math:`m^0(d) \\in \\{1, \\dots, D\\}` (its position in the ordering),
each hidden unit k of layer l a degree :math:`m^l(k) \\in \\{1, \\dots, D-1\\}`
(the largest input position it may depend on). The weight masks are

.. math::
   M^{l}_{k,k'} = \\mathbb 1[m^{l}(k) \\ge m^{l-1}(k')] \\quad\\text{(hidden layers)},\\qquad
   M^{\\mathrm{out}}_{d,k} = \\mathbb 1[m^0(d) > m^{L}(k)] \\quad\\text{(output layer)},

so that output d depends only on the inputs earlier in the ordering and
:math:`\\sigma(\\text{output}_d) = p(x_d = 1 \\mid x_{<d})`: one forward pass
gives all D conditionals, and :math:`\\log p(x) = \\sum_d \\log p(x_d \\mid
x_{<d})` (the chain rule). The Jacobian of the outputs with respect to the
inputs, in the ordering, is strictly lower triangular (tested by autograd).
The paper draws hidden degrees at random in :math:`[\\min_{k'} m^{l-1}(k'), D-1]`;
:func:`hidden_degrees` also offers the deterministic cyclic choice.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def input_degrees(ordering: torch.Tensor | list[int]) -> torch.Tensor:
    """:math:`m^0(d)` = 1 + the position of input d in ``ordering`` (a permutation of 0..D-1)."""
    ordering = torch.as_tensor(ordering, dtype=torch.long)
    D = len(ordering)
    if D < 2 or not torch.equal(ordering.sort().values, torch.arange(D)):
        raise ValueError(f"ordering must be a permutation of 0..D-1 with D >= 2, got {ordering.tolist()}")
    degrees = torch.empty(D, dtype=torch.long)
    degrees[ordering] = torch.arange(1, D + 1)
    return degrees


def hidden_degrees(n_units: int, D: int, previous: torch.Tensor, *, generator: torch.Generator | None = None,
                   random: bool = True) -> torch.Tensor:
    """Degrees of one hidden layer: uniform in :math:`[\\min m^{l-1}, D-1]` (the paper), or cyclic if ``random=False``."""
    if n_units < 1 or D < 2:
        raise ValueError(f"need n_units >= 1 and D >= 2, got {n_units}, {D}")
    low = min(int(previous.min()), D - 1)
    if random:
        return torch.randint(low, D, (n_units,), generator=generator)
    return low + torch.arange(n_units) % (D - low)


def made_masks(degrees: list[torch.Tensor]) -> list[torch.Tensor]:
    """The masks of every layer from the degrees ``[m^0, m^1, ..., m^L]`` (inputs first).

    Hidden layer l: (units_l, units_{l-1}) with 1 where :math:`m^l(k) \\ge m^{l-1}(k')`;
    output layer: (D, units_L) with 1 where :math:`m^0(d) > m^L(k)`. Float tensors of 0 and 1.
    """
    if len(degrees) < 2:
        raise ValueError("give the input degrees and at least one hidden layer's degrees")
    masks = [(later[:, None] >= earlier[None, :]).float() for earlier, later in zip(degrees[:-1], degrees[1:])]
    masks.append((degrees[0][:, None] > degrees[-1][None, :]).float())
    return masks


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 mask: :math:`y = (M \\odot W) x + b`."""

    def __init__(self, in_features: int, out_features: int, mask: torch.Tensor,
                 device: torch.device | str | None = None) -> None:
        super().__init__(in_features, out_features, device=device)
        if mask.shape != (out_features, in_features):
            raise ValueError(f"mask must have shape {(out_features, in_features)}, got {tuple(mask.shape)}")
        self.register_buffer("mask", mask.to(device=self.weight.device, dtype=self.weight.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """MADE for D binary variables: ``model(x)`` gives (B, D) logits of :math:`p(x_d = 1 \\mid x_{<d})`.

    ``hidden`` lists the widths of the hidden layers (ReLU). ``ordering``
    defaults to 0..D-1; ``seed`` fixes the random hidden degrees (the masks
    are buffers, saved with the weights); ``random_degrees=False`` uses the
    cyclic degrees instead.
    """

    def __init__(self, D: int, hidden: tuple[int, ...] | list[int] = (256,), ordering: list[int] | None = None,
                 seed: int = 0, random_degrees: bool = True, device: torch.device | str | None = None) -> None:
        super().__init__()
        if not hidden:
            raise ValueError("MADE needs at least one hidden layer")
        self.D = D
        self.hidden = tuple(int(h) for h in hidden)
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("ordering", torch.as_tensor(ordering if ordering is not None else range(D),
                                                         dtype=torch.long))
        degrees = [input_degrees(self.ordering)]
        for width in self.hidden:
            degrees.append(hidden_degrees(width, D, degrees[-1], generator=generator, random=random_degrees))
        self.degrees = degrees
        masks = made_masks(degrees)
        sizes = [D, *self.hidden, D]
        self.layers = nn.ModuleList(MaskedLinear(sizes[i], sizes[i + 1], masks[i], device=device)
                                    for i in range(len(masks)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (B, D) in {0, 1} (float) -> logits (B, D); logit d sees only the inputs before d in the ordering."""
        if x.dim() != 2 or x.shape[1] != self.D:
            raise ValueError(f"expected inputs of shape (B, {self.D}), got {tuple(x.shape)}")
        h = x
        for layer in self.layers[:-1]:
            h = F.relu(layer(h))
        return self.layers[-1](h)

    def nll(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`-\\log p(x) = -\\sum_d \\log p(x_d \\mid x_{<d})` in nats, shape (B,) (Bernoulli conditionals)."""
        return F.binary_cross_entropy_with_logits(self(x), x, reduction="none").sum(dim=1)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """D forward passes, one variable at a time in the ordering (the sampling loop): (n, D) in {0, 1}."""
        device = self.layers[0].weight.device
        x = torch.zeros(n, self.D, device=device)
        for d in self.ordering.tolist():
            p = torch.sigmoid(self(x)[:, d])
            u = torch.rand(n, generator=generator).to(device)
            x[:, d] = (u < p).float()
        return x


def train_made(images: torch.Tensor, *, hidden: tuple[int, ...] = (512,), steps: int = 1500, batch_size: int = 100,
               lr: float = 3e-3, seed: int = 0, device: torch.device | str = "cpu") -> tuple[MADE, list[float]]:
    """MADE on binary images (B, 1, H, W) flattened in raster order, Adam with a one-cycle schedule.

    Returns the model (eval mode) and the loss history (nats per image).
    """
    from genai_foundations.training import batches, fit

    if images.dim() != 4:
        raise ValueError(f"expected binary images (B, 1, H, W), got {tuple(images.shape)}")
    torch.manual_seed(seed)
    data = images.flatten(1).float().to(device)
    model = MADE(data.shape[1], hidden, seed=seed, device=device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.1)
    stream = batches(data, batch_size=batch_size, generator=torch.Generator().manual_seed(seed))
    history = fit(lambda step: model.nll(next(stream)[0]).mean(), optimizer, steps, desc="MADE (binary digits)",
                  scheduler=scheduler)
    return model.eval(), history.losses


def nats_to_bits_per_dim(nll_nats: float, D: int) -> float:
    """NLL per image (nats) to bits per dimension: :math:`\\mathrm{nll} / (D \\ln 2)`."""
    return nll_nats / (D * math.log(2))
