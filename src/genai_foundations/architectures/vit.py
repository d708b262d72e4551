"""Vision Transformer (ViT) pieces, from images to tokens and back (ViT and DiT chapter).

Notation of the chapter: an image :math:`x` of shape (C, H, W) is cut into
non-overlapping :math:`P \\times P` patches, :math:`N = HW / P^2` of them, each
flattened to a vector of length :math:`P^2 C`.

* :func:`patchify` / :func:`unpatchify`: (B, C, H, W) <-> (B, N, P*P*C), equation (PATCH),
  patches in row-major order, each flattened as (row in patch, column in patch, channel),
* :class:`PatchEmbedding`: a linear map of each flattened patch to a token of width
  :math:`D`, :math:`e_i = E\\,x_i + b` (EMB), written either as :func:`patchify` + ``nn.Linear``
  (``mode="linear"``) or as one ``nn.Conv2d`` with kernel and stride :math:`P`
  (``mode="conv"``); :func:`conv_weight_from_linear` converts one into the other,
* :func:`sinusoidal_positions_2d`: fixed 2-D sine-cosine position embeddings (half of
  the width encodes the patch row, half the column); :class:`ViT` also offers learned
  positions (one trained vector per position),
* :func:`prepend_class_token`: :math:`[h_{cls}; e_1; \\dots; e_N] + E_{pos}` (CLS),
* attention is the package's :class:`~genai_foundations.architectures.attention.MultiHeadAttention`:
  scaled dot-product attention :math:`\\mathrm{softmax}(QK^\\top/\\sqrt{d_h})V` per head (ATT),
  as self-attention (keys from the same tokens) or cross-attention (keys from another sequence),
* :class:`EncoderBlock`: the pre-norm transformer block
  :math:`h' = h + \\mathrm{MSA}(\\mathrm{LN}(h))`, :math:`h'' = h' + \\mathrm{MLP}(\\mathrm{LN}(h'))` (BLOCK),
* :class:`ViT`: patch embedding, class token, positions, :math:`L` blocks, a final
  LayerNorm and a linear head on the class token,
* :func:`mean_attention_distance`: per layer, the attention-weighted average distance
  (in pixels) between a query patch and the patches it attends to.

Parameters of :class:`ViT` can be copied from ``torchvision.models.VisionTransformer``
(:func:`load_torchvision_vit`), which has the same layout; with ``norm_eps=1e-6`` the
two networks compute the same function.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from genai_foundations.architectures.attention import MultiHeadAttention


# ---------------------------------------------------------------------------------------------------------------
# Images to tokens and back
# ---------------------------------------------------------------------------------------------------------------
def _pair(size: int | Sequence[int], name: str) -> tuple[int, int]:
    pair = (int(size), int(size)) if isinstance(size, (int,)) else tuple(int(s) for s in size)
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"{name} must be a positive int or a pair of them, got {size!r}")
    return pair  # type: ignore[return-value]


def patchify(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut images (B, C, H, W) into non-overlapping patches: (B, N, P*P*C) with N = HW / P^2 (PATCH).

    Patches are numbered row by row over the (H/P) x (W/P) grid; each is
    flattened in the order (row inside the patch, column inside the patch,
    channel), so entry ``(i * P + j) * C + c`` of a patch is pixel (i, j) of channel c.
    Only reshapes and a permutation: no arithmetic, so :func:`unpatchify` undoes it exactly.
    """
    if x.dim() != 4:
        raise ValueError(f"expected images of shape (B, C, H, W), got {tuple(x.shape)}")
    p = int(patch_size)
    b, c, h, w = x.shape
    if p < 1 or h % p != 0 or w % p != 0:
        raise ValueError(f"the patch size {patch_size} must divide the height {h} and width {w}")
    grid = x.reshape(b, c, h // p, p, w // p, p)          # (B, C, rows, i, cols, j)
    return grid.permute(0, 2, 4, 3, 5, 1).reshape(b, (h // p) * (w // p), p * p * c)


def unpatchify(patches: torch.Tensor, patch_size: int, height: int, width: int) -> torch.Tensor:
    """The inverse of :func:`patchify`: (B, N, P*P*C) back to (B, C, H, W), the channels C = dim / P^2."""
    if patches.dim() != 3:
        raise ValueError(f"expected patches of shape (B, N, P*P*C), got {tuple(patches.shape)}")
    p = int(patch_size)
    b, n, d = patches.shape
    if p < 1 or height % p != 0 or width % p != 0 or n != (height // p) * (width // p) or d % (p * p) != 0:
        raise ValueError(f"{n} patches of size {d} do not tile a {height}x{width} image with {p}x{p} patches")
    c = d // (p * p)
    grid = patches.reshape(b, height // p, width // p, p, p, c)   # (B, rows, cols, i, j, C)
    return grid.permute(0, 5, 1, 3, 2, 4).reshape(b, c, height, width)


def conv_weight_from_linear(weight: torch.Tensor, patch_size: int, channels: int) -> torch.Tensor:
    """The Conv2d kernel (D, C, P, P) that computes the same patch embedding as a Linear weight (D, P*P*C).

    A convolution with kernel size and stride P visits each patch once and takes
    the dot product of its kernel with the patch: the linear map of (EMB) with
    the weights laid out by channel, row, column instead of the row, column,
    channel order of :func:`patchify`.
    """
    p, c = int(patch_size), int(channels)
    if weight.dim() != 2 or weight.shape[1] != p * p * c:
        raise ValueError(f"expected a weight of shape (D, {p * p * c}), got {tuple(weight.shape)}")
    return weight.reshape(weight.shape[0], p, p, c).permute(0, 3, 1, 2).contiguous()


def linear_weight_from_conv(weight: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`conv_weight_from_linear`: a kernel (D, C, P, P) as a Linear weight (D, P*P*C)."""
    if weight.dim() != 4 or weight.shape[2] != weight.shape[3]:
        raise ValueError(f"expected a square kernel of shape (D, C, P, P), got {tuple(weight.shape)}")
    return weight.permute(0, 2, 3, 1).reshape(weight.shape[0], -1).contiguous()


class PatchEmbedding(nn.Module):
    """Patches to tokens, :math:`e_i = E x_i + b` (EMB): (B, C, H, W) -> (B, N, D).

    ``mode="linear"``: :func:`patchify` then ``nn.Linear(P*P*C, D)`` (attribute ``proj``);
    ``mode="conv"``: ``nn.Conv2d(C, D, kernel_size=P, stride=P)`` (attribute ``proj``),
    its (B, D, H/P, W/P) output flattened row by row. The two compute the same
    function when the weights are converted by :func:`conv_weight_from_linear`.
    """

    def __init__(self, in_channels: int, dim: int, patch_size: int, mode: str = "linear"):
        super().__init__()
        if mode not in ("linear", "conv"):
            raise ValueError(f"mode must be 'linear' or 'conv', got {mode!r}")
        if min(in_channels, dim, patch_size) < 1:
            raise ValueError("in_channels, dim and patch_size must be positive")
        self.in_channels, self.dim, self.patch_size, self.mode = in_channels, dim, patch_size, mode
        if mode == "linear":
            self.proj = nn.Linear(patch_size * patch_size * in_channels, dim)
        else:
            self.proj = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected images of shape (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        if self.mode == "linear":
            return self.proj(patchify(x, self.patch_size))
        return self.proj(x).flatten(2).transpose(1, 2)       # (B, D, h, w) -> (B, h*w, D), row by row


def sinusoidal_positions_1d(positions: torch.Tensor, dim: int, base: float = 10000.0) -> torch.Tensor:
    """Sine-cosine codes of integer positions: (n,) -> (n, dim), first the sines, then the cosines.

    Frequency k (k = 0 .. dim/2 - 1) is :math:`\\omega_k = \\mathrm{base}^{-2k/\\mathrm{dim}}`
    (the transformer's positional encoding, with the sines and cosines in two blocks).
    """
    if dim % 2 != 0 or dim < 2:
        raise ValueError(f"dim must be a positive even number, got {dim}")
    omega = base ** (-torch.arange(dim // 2, dtype=torch.float64) * 2 / dim)
    angles = positions.double()[:, None] * omega[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1).float()


def sinusoidal_positions_2d(grid_height: int, grid_width: int, dim: int) -> torch.Tensor:
    """Fixed 2-D position embeddings (N, dim) for a grid of patches, N = grid_height * grid_width.

    Half of the width codes the patch's row and half its column, each with
    :func:`sinusoidal_positions_1d` (MAE and DiT use this layout); patches are in
    the row-major order of :func:`patchify`. ``dim`` must be a multiple of 4.
    """
    if dim % 4 != 0:
        raise ValueError(f"dim must be a multiple of 4, got {dim}")
    rows, cols = torch.meshgrid(torch.arange(grid_height), torch.arange(grid_width), indexing="ij")
    return torch.cat([sinusoidal_positions_1d(rows.reshape(-1), dim // 2),
                      sinusoidal_positions_1d(cols.reshape(-1), dim // 2)], dim=1)


def prepend_class_token(tokens: torch.Tensor, class_token: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """:math:`[h_{cls}; e_1; \\dots; e_N] + E_{pos}` (CLS): (B, N, D) -> (B, N + 1, D).

    ``class_token`` has D entries (any shape that holds D numbers, e.g. (1, 1, D));
    ``positions`` is (N + 1, D) or (1, N + 1, D), row 0 for the class token.
    """
    if tokens.dim() != 3:
        raise ValueError(f"expected tokens of shape (B, N, D), got {tuple(tokens.shape)}")
    b, n, d = tokens.shape
    if class_token.numel() != d:
        raise ValueError(f"the class token must have {d} entries, got shape {tuple(class_token.shape)}")
    positions = positions.reshape(-1, d) if positions.numel() == (n + 1) * d else None
    if positions is None:
        raise ValueError(f"positions must hold ({n + 1}, {d}) numbers")
    cls = class_token.reshape(1, 1, d).expand(b, 1, d)
    return torch.cat([cls, tokens], dim=1) + positions[None]


# ---------------------------------------------------------------------------------------------------------------
# The encoder and the ViT
# ---------------------------------------------------------------------------------------------------------------
class MLP(nn.Module):
    """The position-wise feed-forward network: Linear(D, D_mlp), GELU, Linear(D_mlp, D)."""

    def __init__(self, dim: int, hidden_dim: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class EncoderBlock(nn.Module):
    """Pre-norm transformer block (BLOCK): :math:`h' = h + \\mathrm{MSA}(\\mathrm{LN}_1(h))`,
    :math:`h'' = h' + \\mathrm{MLP}(\\mathrm{LN}_2(h'))`; tokens h are (B, n, D)."""

    def __init__(self, dim: int, num_heads: int, mlp_dim: int, norm_eps: float = 1e-6):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attention = MultiHeadAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = MLP(dim, mlp_dim)

    def forward(self, h: torch.Tensor, return_weights: bool = False):
        attended, weights = self.attention(self.norm1(h), return_weights=True)
        h = h + attended
        h = h + self.mlp(self.norm2(h))
        return (h, weights) if return_weights else h


class ViT(nn.Module):
    """A Vision Transformer classifier.

    ``image_size`` (int or (H, W)) and ``patch_size`` P give a grid of
    (H/P) x (W/P) patches; ``embedding`` is ``"linear"`` or ``"conv"``
    (:class:`PatchEmbedding`); ``positions`` is ``"learned"`` (a parameter
    (N + 1, D), initialised with small random numbers) or ``"sincos"`` (fixed
    :func:`sinusoidal_positions_2d` for the patches and zeros for the class token).
    ``depth`` :class:`EncoderBlock` s of width ``dim`` with ``num_heads`` heads and
    an MLP of width ``mlp_dim``; then LayerNorm and the linear ``head`` applied to
    the class token. ``norm_eps=1e-6`` matches torchvision's ViT.

    ``forward(x)`` returns logits (B, num_classes); :meth:`attention_weights`
    returns each block's attention weights.
    """

    def __init__(self, image_size: int | Sequence[int], patch_size: int, in_channels: int = 1,
                 num_classes: int = 10, dim: int = 64, depth: int = 4, num_heads: int = 4, mlp_dim: int = 128,
                 embedding: str = "linear", positions: str = "learned", norm_eps: float = 1e-6):
        super().__init__()
        height, width = _pair(image_size, "image_size")
        if height % patch_size != 0 or width % patch_size != 0:
            raise ValueError(f"the patch size {patch_size} must divide the image size {height}x{width}")
        if positions not in ("learned", "sincos"):
            raise ValueError(f"positions must be 'learned' or 'sincos', got {positions!r}")
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self.image_size, self.patch_size, self.in_channels = (height, width), patch_size, in_channels
        self.grid = (height // patch_size, width // patch_size)
        self.num_patches = self.grid[0] * self.grid[1]
        self.patch_embedding = PatchEmbedding(in_channels, dim, patch_size, embedding)
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        if positions == "learned":
            self.positions = nn.Parameter(0.02 * torch.randn(self.num_patches + 1, dim))
        else:
            fixed = torch.cat([torch.zeros(1, dim), sinusoidal_positions_2d(*self.grid, dim)])
            self.register_buffer("positions", fixed)
        self.blocks = nn.ModuleList(EncoderBlock(dim, num_heads, mlp_dim, norm_eps) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=norm_eps)
        self.head = nn.Linear(dim, num_classes)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's input: patch embeddings with the class token in front, positions added (B, N + 1, D)."""
        if x.dim() != 4 or tuple(x.shape[1:]) != (self.in_channels, *self.image_size):
            raise ValueError(f"expected images of shape (B, {self.in_channels}, {self.image_size[0]}, "
                             f"{self.image_size[1]}), got {tuple(x.shape)}")
        return prepend_class_token(self.patch_embedding(x), self.class_token, self.positions)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.tokens(x)
        for block in self.blocks:
            h = block(h)
        return self.head(self.norm(h)[:, 0])

    @torch.no_grad()
    def attention_weights(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Per block, the attention weights (B, heads, N + 1, N + 1) of one forward pass (index 0 = class token)."""
        h, maps = self.tokens(x), []
        for block in self.blocks:
            h, weights = block(h, return_weights=True)
            maps.append(weights)
        return maps


def load_torchvision_vit(ours: ViT, theirs: nn.Module) -> ViT:
    """Copy the weights of a ``torchvision.models.VisionTransformer`` into ``ours`` (same sizes); returns ``ours``.

    torchvision's attention keeps Q, K and V in one (3D, D) matrix ``in_proj_weight``;
    its patch projection is a convolution (converted by :func:`linear_weight_from_conv`
    when ``ours`` embeds with a linear layer); its position embedding has the class token's row first, as ours.
    """
    with torch.no_grad():
        conv = theirs.conv_proj
        if ours.patch_embedding.mode == "conv":
            ours.patch_embedding.proj.weight.copy_(conv.weight)
        else:
            ours.patch_embedding.proj.weight.copy_(linear_weight_from_conv(conv.weight))
        ours.patch_embedding.proj.bias.copy_(conv.bias)
        ours.class_token.copy_(theirs.class_token)
        ours.positions.copy_(theirs.encoder.pos_embedding[0])
        layers = list(theirs.encoder.layers)
        if len(layers) != len(ours.blocks):
            raise ValueError(f"torchvision's model has {len(layers)} blocks, ours {len(ours.blocks)}")
        for block, layer in zip(ours.blocks, layers):
            block.norm1.load_state_dict(layer.ln_1.state_dict())
            block.norm2.load_state_dict(layer.ln_2.state_dict())
            attention = layer.self_attention
            block.attention.load_from_torch(attention)
            block.mlp.fc1.load_state_dict(layer.mlp[0].state_dict())
            block.mlp.fc2.load_state_dict(layer.mlp[3].state_dict())
        ours.norm.load_state_dict(theirs.encoder.ln.state_dict())
        ours.head.load_state_dict(theirs.heads.head.state_dict())
    return ours


def mean_attention_distance(weights: torch.Tensor, grid: Sequence[int], patch_size: int,
                            class_token: bool = True) -> torch.Tensor:
    """Mean attention distance per head, in pixels: (B, heads, T, T) weights -> (heads,).

    For query patch i and key patch j at grid positions :math:`g_i, g_j`, the
    distance is :math:`P\\,\\|g_i - g_j\\|` (between patch centres). Each
    query's weights over the patches (the class token's row and column dropped,
    the rest renormalised to sum to 1) average these distances; the result is
    the mean over queries and images. Small values: a head looks nearby, like a
    convolution; large values: it integrates information from across the image.
    """
    rows, cols = _pair(grid, "grid")
    n = rows * cols
    if weights.dim() != 4 or weights.shape[-1] != weights.shape[-2] or weights.shape[-1] != n + int(class_token):
        raise ValueError(f"expected weights (B, heads, {n + int(class_token)}, {n + int(class_token)}), "
                         f"got {tuple(weights.shape)}")
    a = weights[..., 1:, 1:] if class_token else weights
    a = a / a.sum(dim=-1, keepdim=True)
    r, c = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
    centres = torch.stack([r.reshape(-1), c.reshape(-1)], dim=1).to(a)
    distance = patch_size * torch.cdist(centres, centres)            # (N, N) pixels
    return (a * distance).sum(dim=-1).mean(dim=(0, 2))


def train_image_classifier(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, steps: int, *,
                           batch_size: int = 64, lr: float = 3e-3, weight_decay: float = 0.0, seed: int = 0,
                           desc: str = "classifier"):
    """Train any image classifier with cross-entropy: AdamW, a one-cycle learning rate, seeded batches.

    The same recipe trains the ViT and the chapter-13 CNN of the ViT chapter's
    comparison. Runs on the device of the model's parameters. Returns the
    :class:`~genai_foundations.training.History` and a dict with the training's
    ``wall_seconds`` and ``cpu_seconds`` (this process's CPU time, less
    affected than wall time by other load on the machine).
    """
    import time

    from genai_foundations.training import batches, fit

    if images.dim() != 4 or labels.shape != (len(images),):
        raise ValueError(f"expected images (N, C, H, W) and labels (N,), got {tuple(images.shape)} and "
                         f"{tuple(labels.shape)}")
    device = next(model.parameters()).device
    stream = batches(images.to(device), labels.to(device), batch_size=batch_size,
                     generator=torch.Generator().manual_seed(seed))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.1)

    def loss_fn(step: int) -> torch.Tensor:
        x, y = next(stream)
        return F.cross_entropy(model(x), y)

    model.train()
    wall, cpu = time.perf_counter(), time.process_time()
    history = fit(loss_fn, optimizer, steps, desc=desc, scheduler=scheduler)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    timing = {"wall_seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu}
    model.eval()
    return history, timing
