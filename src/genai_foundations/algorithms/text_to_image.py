r"""Text-to-image diffusion in miniature: a caption-conditioned denoiser and a diffusion prior.

Both pieces reuse chapter 4's DDPM machinery unchanged
(:class:`~genai_foundations.algorithms.ddpm.NoiseSchedule`,
:func:`~genai_foundations.algorithms.ddpm.ddpm_loss`,
:func:`~genai_foundations.algorithms.ddpm.sample` with classifier-free guidance
:math:`\tilde\varepsilon = (1-w)\,\varepsilon_\theta(x_t, \varnothing) + w\,\varepsilon_\theta(x_t, c)`).
The condition travels where chapter 4 passes class labels, as the ``y`` of
``model(x_t, t / T, y)``:

* :class:`TextConditionedDenoiser` (GLIDE, Imagen, Stable Diffusion):
  ``y`` is a batch of caption token ids (B, L). A *frozen* text encoder (the
  small CLIP's) turns them into per-token features (B, L, width), and
  chapter 17's :class:`~genai_foundations.architectures.attention_unet.AttentionUNet`
  cross-attends to them. A row of ids that is all padding (id 0) is the empty
  caption :math:`\varnothing`: its mask row keeps no token, so the U-Net attends
  to its learned null token. ``y=None`` is the empty caption for the whole batch.
* :class:`DiffusionPrior` (DALL-E 2's prior, in miniature): a denoiser of
  CLIP *image* embeddings (B, D) conditioned on a CLIP *text* embedding
  ``y`` (B, D). A row of zeros in ``y`` (or ``y=None``) is the empty condition,
  which a learned null vector replaces. Sampling it turns a caption's text
  embedding into plausible image embeddings, which a decoder would render.

:func:`drop_conditions` is the condition dropout that trains the unconditional
branch of guidance (caption rows set to padding, embedding rows set to zero):
chapter 4's label dropout, for conditions that are sequences or vectors.
"""

from __future__ import annotations

import torch
from torch import nn

from genai_foundations.algorithms.ddpm import NoiseSchedule, ddpm_loss
from genai_foundations.architectures.unet import sinusoidal_embedding
from genai_foundations.runtime import rand


def drop_conditions(y: torch.Tensor, p_uncond: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Condition dropout: each row of ``y`` (B, ...) becomes all zeros with probability ``p_uncond``.

    For token ids a row of zeros is the empty caption (all padding); for
    embeddings it is the "no condition" row of :class:`DiffusionPrior`. Returns
    a new tensor; ``y`` is not modified.
    """
    if not 0 <= p_uncond <= 1:
        raise ValueError(f"p_uncond must lie in [0, 1], got {p_uncond}")
    drop = rand((y.shape[0],), y.device, generator) < p_uncond
    return y.masked_fill(drop.reshape(-1, *([1] * (y.dim() - 1))), 0)


class TextConditionedDenoiser(nn.Module):
    """:math:`\\varepsilon_\\theta(x_t, t, c)` for captions ``c``: a frozen text encoder feeding an attention U-Net.

    ``unet`` is an :class:`~genai_foundations.architectures.attention_unet.AttentionUNet`
    whose ``context_dim`` equals the text encoder's width; ``text_encoder`` has
    ``tokens(ids, mask) -> (B, L, width)`` (e.g. ``SmallCLIP.text_encoder``). The
    text encoder is frozen (its parameters stop requiring gradients), as
    Imagen and Stable Diffusion keep theirs. ``forward(x, t, y=None)``: ``y``
    token ids (B, L) (0 = padding; an all-padding row = the empty caption) or ``None``.
    """

    def __init__(self, unet: nn.Module, text_encoder: nn.Module):
        super().__init__()
        if getattr(unet, "context_dim", None) != getattr(text_encoder, "out_dim", None):
            raise ValueError(f"the U-Net's context_dim ({getattr(unet, 'context_dim', None)}) must equal the text "
                             f"encoder's width ({getattr(text_encoder, 'out_dim', None)})")
        self.unet = unet
        self.text_encoder = text_encoder
        for p in self.text_encoder.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> "TextConditionedDenoiser":
        super().train(mode)
        self.text_encoder.eval()                                    # frozen: always in eval mode
        return self

    def context(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The frozen per-token features (B, L, width) of captions ``ids`` and their mask (B, L) (False = padding)."""
        if ids.dim() != 2 or ids.dtype != torch.long:
            raise ValueError(f"captions must be (B, L) long token ids, got {ids.dtype} {tuple(ids.shape)}")
        mask = ids != 0
        empty = ~mask.any(dim=1)
        safe_ids = ids.clone()
        safe_ids[empty, 0] = 1                                      # encode something; the mask hides it anyway
        with torch.no_grad():
            features = self.text_encoder.tokens(safe_ids, safe_ids != 0)
        return features, mask

    def forward(self, x: torch.Tensor, t: torch.Tensor | float, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is None:
            return self.unet(x, t)
        context, mask = self.context(y.to(x.device))
        return self.unet(x, t, context.to(x.dtype), mask)


def text_to_image_loss(model: TextConditionedDenoiser, x0: torch.Tensor, ids: torch.Tensor, schedule: NoiseSchedule,
                       p_uncond: float = 0.2, generator: torch.Generator | None = None) -> torch.Tensor:
    """Chapter 4's loss (LOSS) with the caption as the condition and caption dropout for guidance."""
    return ddpm_loss(model, x0, schedule, y=drop_conditions(ids, p_uncond, generator), generator=generator)


class DiffusionPrior(nn.Module):
    """A noise predictor for image embeddings given text embeddings: DALL-E 2's prior with an MLP for a transformer.

    Inputs: ``x`` (B, D) noisy image embeddings, ``t`` the noise level t / T,
    ``y`` (B, D) text embeddings (a row of zeros or ``y=None`` = no condition,
    replaced by a learned null vector). The network concatenates
    ``[x, MLP(sinusoidal(t)), condition]`` and applies ``depth`` residual
    MLP blocks; its output layer starts at zero.
    """

    def __init__(self, dim: int, hidden: int = 256, depth: int = 3, time_dim: int = 32):
        super().__init__()
        if dim < 1 or hidden < 1 or depth < 1:
            raise ValueError("dim, hidden and depth must be positive")
        self.dim, self.time_dim = dim, time_dim
        self.null = nn.Parameter(torch.zeros(dim))
        self.time_mlp = nn.Sequential(nn.Linear(time_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.inp = nn.Linear(2 * dim + hidden, hidden)
        self.blocks = nn.ModuleList([nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, hidden), nn.SiLU(),
                                                   nn.Linear(hidden, hidden)) for _ in range(depth)])
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, dim))
        nn.init.zeros_(self.out[1].weight)
        nn.init.zeros_(self.out[1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor | float, y: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"expected x of shape (B, {self.dim}), got {tuple(x.shape)}")
        b = x.shape[0]
        t = torch.as_tensor(t, device=x.device, dtype=torch.float32)
        t = t.expand(b) if t.dim() == 0 else t
        if y is None:
            condition = self.null.expand(b, -1)
        else:
            if y.shape != x.shape:
                raise ValueError(f"y must have the shape of x {tuple(x.shape)}, got {tuple(y.shape)}")
            empty = (y == 0).all(dim=1, keepdim=True)
            condition = torch.where(empty, self.null.expand(b, -1), y)
        h = self.inp(torch.cat([x, self.time_mlp(sinusoidal_embedding(t, self.time_dim)), condition.to(x.dtype)], 1))
        for block in self.blocks:
            h = h + block(h)
        return self.out(h)


def to_prior_space(embeddings: torch.Tensor) -> torch.Tensor:
    """Unit-normalised embeddings :math:`\\hat u = u / \\|u\\|`: CLIP compares only directions, and every
    coordinate of a unit vector lies in [-1, 1], so the sampler's ``clip_x0`` keeps :math:`\\hat x_0` in range."""
    return embeddings / embeddings.norm(dim=1, keepdim=True).clamp_min(1e-12)


def prior_loss(prior: DiffusionPrior, image_emb: torch.Tensor, text_emb: torch.Tensor, schedule: NoiseSchedule,
               p_uncond: float = 0.1, generator: torch.Generator | None = None) -> torch.Tensor:
    """(LOSS) on image embeddings :math:`x_0` = ``to_prior_space(image_emb)`` conditioned on ``to_prior_space(text_emb)``."""
    y = drop_conditions(to_prior_space(text_emb), p_uncond, generator)
    return ddpm_loss(prior, to_prior_space(image_emb), schedule, y=y, generator=generator)
