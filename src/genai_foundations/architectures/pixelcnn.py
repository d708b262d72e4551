"""PixelCNN: an autoregressive image model built from masked convolutions (chapter 13).

Pixels are ordered in raster order (row by row, left to right), and the
model factorises the likelihood of an image :math:`x = (x_1, \\dots, x_D)` as

.. math:: p(x) = \\prod_{i=1}^{D} p(x_i \\mid x_1, \\dots, x_{i-1}), \\qquad
          -\\log p(x) = \\sum_{i=1}^{D} -\\log p(x_i \\mid x_{<i}) . \\qquad\\text{(AR)}

Every conditional comes out of one forward pass: the convolution weights
that would look at the current or later pixels are zeroed by a mask
(:func:`pixelcnn_mask`, :class:`MaskedConv2d`): type A (first layer) hides
the current pixel too, type B (all later layers) lets a position see its own
features, which by then only carry information about earlier pixels.

* :class:`MaskedResidualBlock`: ReLU - 1x1 conv (2h -> h) - ReLU - masked 3x3 (B) - ReLU - 1x1 conv (h -> 2h), plus the input;
* :class:`PixelCNN`: masked 7x7 (A), residual blocks, 1x1 head; per pixel one Bernoulli logit
  (``num_levels = 2``) or ``num_levels`` logits of a softmax (256 for 8-bit images);
* :func:`sample`: draw an image pixel by pixel in raster order (D forward passes), each pixel by
  :func:`sample_step` (inverting the conditional's CDF at a uniform number);
* :func:`bits_per_dim`, :func:`independent_pixel_nll`: the likelihood in bits per dimension and
  the baseline that models every pixel independently.

Grayscale only (one channel); colour PixelCNNs also order the three channels
of a pixel (R before G before B) with per-channel-group masks, see the chapter.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F


MASK_TYPES = ("A", "B")


def pixelcnn_mask(kernel_size: int | tuple[int, int], mask_type: str) -> torch.Tensor:
    """The (k_h, k_w) mask of a PixelCNN convolution: 1 where the filter may look, 0 elsewhere.

    With the centre at :math:`(c_h, c_w) = (\\lfloor k_h/2 \\rfloor, \\lfloor k_w/2 \\rfloor)`, the mask
    is 1 on every row above the centre, on the centre row left of the centre,
    and, for type ``"B"`` only, at the centre itself; 0 on the rest of the centre
    row and on every row below. Kernel sizes must be odd (the filter is centred
    on the output pixel). Returns a float32 tensor.
    """
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    if not all(isinstance(k, int) and k >= 1 and k % 2 == 1 for k in (kh, kw)):
        raise ValueError(f"kernel_size must be odd and positive (an int or a pair), got {kernel_size!r}")
    if mask_type not in MASK_TYPES:
        raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
    mask = torch.zeros(kh, kw)
    ch, cw = kh // 2, kw // 2
    mask[:ch, :] = 1.0
    mask[ch, :cw] = 1.0
    if mask_type == "B":
        mask[ch, cw] = 1.0
    return mask


class MaskedConv2d(nn.Conv2d):
    """A convolution whose weight is multiplied by :func:`pixelcnn_mask` at every call (stride 1, "same" padding).

    The mask is a buffer, so it moves with the module between devices; the
    masked-out weights still exist but receive zero gradient and never act.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, mask_type: str, bias: bool = True):
        if not isinstance(kernel_size, int) or kernel_size % 2 == 0 or kernel_size < 1:
            raise ValueError(f"kernel_size must be an odd positive int, got {kernel_size!r}")
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=bias)
        self.mask_type = mask_type
        self.register_buffer("mask", pixelcnn_mask(kernel_size, mask_type)[None, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", mask_type={self.mask_type}"


class MaskedResidualBlock(nn.Module):
    """PixelCNN's residual block on 2h channels: :math:`y = x + f(x)` with

    .. math:: f = \\mathrm{Conv}_{1\\times1}^{h \\to 2h} \\circ \\mathrm{ReLU} \\circ
              \\mathrm{MaskedConv}_{3\\times3,B}^{h \\to h} \\circ \\mathrm{ReLU} \\circ
              \\mathrm{Conv}_{1\\times1}^{2h \\to h} \\circ \\mathrm{ReLU} .

    A 1x1 convolution only mixes channels at the same position, so it needs
    no mask; the skip connection passes position :math:`i` to position :math:`i`,
    which a type-B layer allows. No batch norm: in training mode its batch mean
    would mix every position of every image, later pixels included.
    """

    def __init__(self, channels: int):
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be positive, got {channels}")
        self.reduce = nn.Conv2d(2 * channels, channels, 1)
        self.masked = MaskedConv2d(channels, channels, 3, "B")
        self.expand = nn.Conv2d(channels, 2 * channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.reduce(F.relu(x))
        h = self.masked(F.relu(h))
        return x + self.expand(F.relu(h))


class PixelCNN(nn.Module):
    """A PixelCNN for single-channel images whose pixels take ``num_levels`` values 0 .. K-1.

    Masked 7x7 convolution (type A, 1 -> 2h channels), ``num_blocks``
    :class:`MaskedResidualBlock` s, then ReLU - 1x1 - ReLU - 1x1 to the output.
    :meth:`forward` returns per-pixel logits: (B, 1, H, W) Bernoulli logits for
    binary images (``num_levels = 2``), otherwise (B, K, H, W) logits of a
    K-way softmax (K = 256 for 8-bit images). Inputs are the pixel values as
    numbers in 0 .. K-1 (any float or integer dtype), rescaled to [-1, 1].
    """

    def __init__(self, num_levels: int = 2, channels: int = 32, num_blocks: int = 4, first_kernel: int = 7,
                 head_channels: int = 64):
        super().__init__()
        if num_levels < 2:
            raise ValueError(f"num_levels must be at least 2, got {num_levels}")
        if num_blocks < 0:
            raise ValueError(f"num_blocks must be non-negative, got {num_blocks}")
        self.num_levels = num_levels
        self.first = MaskedConv2d(1, 2 * channels, first_kernel, "A")
        self.blocks = nn.Sequential(*[MaskedResidualBlock(channels) for _ in range(num_blocks)])
        out_channels = 1 if num_levels == 2 else num_levels
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(2 * channels, head_channels, 1), nn.ReLU(),
                                  nn.Conv2d(head_channels, out_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"expected single-channel images of shape (B, 1, H, W), got {tuple(x.shape)}")
        h = x.float() * (2.0 / (self.num_levels - 1)) - 1.0
        return self.head(self.blocks(self.first(h)))

    def nll(self, x: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood (AR) of each image in nats, shape (B,): the sum over pixels of -log p(x_i | x_<i)."""
        return pixel_nll(self(x), x, self.num_levels)


def pixel_nll(logits: torch.Tensor, x: torch.Tensor, num_levels: int) -> torch.Tensor:
    """Per-image NLL in nats (B,) from per-pixel logits: Bernoulli for K = 2, categorical (softmax) otherwise.

    For K = 2, ``logits`` is (B, 1, H, W) and :math:`-\\log p(x_i) = \\mathrm{BCE}(\\ell_i, x_i)`;
    for K > 2 it is (B, K, H, W) and :math:`-\\log p(x_i) = -\\log \\mathrm{softmax}(\\ell_i)_{x_i}`.
    A Bernoulli logit :math:`\\ell` is the two-way softmax with logits :math:`(0, \\ell)`.
    """
    if x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(f"expected images of shape (B, 1, H, W), got {tuple(x.shape)}")
    expected = (x.shape[0], 1 if num_levels == 2 else num_levels, *x.shape[2:])
    if tuple(logits.shape) != expected:
        raise ValueError(f"expected logits of shape {expected} for {num_levels} levels, got {tuple(logits.shape)}")
    if num_levels == 2:
        per_pixel = F.binary_cross_entropy_with_logits(logits.float(), x.float(), reduction="none")
    else:
        per_pixel = F.cross_entropy(logits.float(), x[:, 0].long(), reduction="none")
    return per_pixel.flatten(1).sum(dim=1)


def bits_per_dim(nll_nats: torch.Tensor | float, num_dims: int) -> torch.Tensor | float:
    """Convert an NLL per image in nats to bits per dimension: :math:`\\mathrm{nll} / (D \\ln 2)`."""
    if num_dims < 1:
        raise ValueError(f"num_dims must be positive, got {num_dims}")
    return nll_nats / (num_dims * math.log(2.0))


def independent_pixel_nll(train: torch.Tensor, test: torch.Tensor, num_levels: int = 2,
                          alpha: float = 1.0) -> torch.Tensor:
    """Baseline: every pixel independent, with its own smoothed histogram from the training images.

    :math:`p_j(v) = (n_j(v) + \\alpha) / (N + K\\alpha)`, where :math:`n_j(v)` counts the
    training images whose pixel :math:`j` has value :math:`v` (add-:math:`\\alpha`, i.e.
    Laplace smoothing for :math:`\\alpha = 1`, so no value gets probability 0).
    Returns the NLL of each test image in nats, shape (B_test,).
    """
    if train.dim() != 4 or test.dim() != 4 or train.shape[1:] != test.shape[1:]:
        raise ValueError(f"expected train and test images of the same shape (B, C, H, W), "
                         f"got {tuple(train.shape)} and {tuple(test.shape)}")
    if alpha <= 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    train_levels, test_levels = train.long().flatten(1), test.long().flatten(1)
    if train_levels.min() < 0 or train_levels.max() >= num_levels or test_levels.min() < 0 or test_levels.max() >= num_levels:
        raise ValueError(f"pixel values must be integers in 0 .. {num_levels - 1}")
    counts = F.one_hot(train_levels, num_levels).sum(dim=0).double()            # (D, K)
    log_p = torch.log((counts + alpha) / (len(train) + num_levels * alpha))     # (D, K)
    return -log_p.gather(1, test_levels.T).T.sum(dim=1)


def binarize(images: torch.Tensor, threshold: float = 0.0) -> torch.Tensor:
    """Binary images (0./1.): 1 where ``images > threshold`` (0 is mid-grey for the [-1, 1] digits)."""
    return (images > threshold).float()


@torch.no_grad()
def sample(model: PixelCNN, n: int, height: int, width: int, generator: torch.Generator | None = None,
           callback: Callable[[int, torch.Tensor], None] | None = None) -> torch.Tensor:
    """Draw ``n`` images pixel by pixel in raster order (H W forward passes), returned as (n, 1, H, W) levels.

    Before step :math:`i` the canvas holds the pixels already drawn (and zeros
    after them, which the masks make invisible); the model's conditional at
    pixel :math:`i` is evaluated and the pixel is drawn from it by inverting
    its CDF with a uniform number from ``generator`` (a CPU generator, so the
    same seed gives the same images on every device).
    ``callback(i, canvas)`` is called after each pixel (e.g. to keep snapshots).
    """
    if n < 1 or height < 1 or width < 1:
        raise ValueError(f"n, height and width must be positive, got {n}, {height}, {width}")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        canvas = torch.zeros(n, 1, height, width, device=device)
        for index in range(height * width):
            row, col = divmod(index, width)
            canvas = sample_step(model, canvas, row, col, torch.rand(n, generator=generator).to(device))
            if callback is not None:
                callback(index, canvas)
    finally:
        model.train(was_training)
    return canvas


def sample_step(model: nn.Module, canvas: torch.Tensor, row: int, col: int, u: torch.Tensor) -> torch.Tensor:
    """One step of :func:`sample`: draw pixel ``(row, col)`` of every image, by inverting its CDF at ``u``.

    ``model`` maps a canvas (n, 1, H, W) to per-pixel logits and has
    ``num_levels`` K (a :class:`PixelCNN`); ``canvas`` holds the pixels drawn
    so far (what it holds at ``(row, col)`` and after it does not matter: the
    masks hide it); ``u`` (n,) are uniform numbers in [0, 1). The conditional
    at ``(row, col)`` is :math:`p = (1 - \\sigma(\\ell), \\sigma(\\ell))` for one
    Bernoulli logit (K = 2) and :math:`\\mathrm{softmax}(\\ell)` otherwise; the
    drawn level is the first :math:`v` whose CDF :math:`\\sum_{k \\le v} p_k` reaches
    ``u``. Returns a new canvas with that level written at ``(row, col)`` (the
    input is left unchanged); one forward pass, without gradients.
    """
    if canvas.dim() != 4 or canvas.shape[1] != 1:
        raise ValueError(f"expected a canvas of shape (n, 1, H, W), got {tuple(canvas.shape)}")
    if not (0 <= row < canvas.shape[2] and 0 <= col < canvas.shape[3]):
        raise ValueError(f"pixel ({row}, {col}) lies outside a {canvas.shape[2]}x{canvas.shape[3]} canvas")
    if tuple(u.shape) != (canvas.shape[0],):
        raise ValueError(f"expected one uniform number per image, shape ({canvas.shape[0]},), got {tuple(u.shape)}")
    with torch.no_grad():
        logits = model(canvas)[:, :, row, col].float()                              # (n, 1) or (n, K)
    if model.num_levels == 2:
        probs = torch.cat([1 - torch.sigmoid(logits), torch.sigmoid(logits)], dim=1)
    else:
        probs = torch.softmax(logits, dim=1)
    cdf = probs.cumsum(dim=1)
    value = (cdf < u.to(cdf.device)[:, None]).sum(dim=1).clamp(max=model.num_levels - 1)  # first level with cdf >= u
    out = canvas.clone()
    out[:, 0, row, col] = value.to(out.dtype)
    return out


def dependency_map(model: nn.Module, height: int, width: int, row: int, col: int,
                   x: torch.Tensor | None = None) -> torch.Tensor:
    """Which input pixels the output at (row, col) depends on: :math:`|\\partial\\, \\mathrm{out}_{(row, col)} / \\partial x|`.

    Sums the absolute gradient of all output channels at (row, col) with
    respect to a (1, 1, H, W) input (random unless ``x`` is given). Returns an
    (H, W) map; for a correct PixelCNN it is zero at (row, col) and at every
    later pixel in raster order.
    """
    if not (0 <= row < height and 0 <= col < width):
        raise ValueError(f"pixel ({row}, {col}) lies outside a {height}x{width} image")
    device = next(model.parameters()).device
    if x is None:
        x = torch.rand(1, 1, height, width, generator=torch.Generator().manual_seed(0))
    x = x.detach().to(device).float().requires_grad_(True)
    out = model(x)
    grad, = torch.autograd.grad(out[0, :, row, col].sum(), x)
    return grad[0, 0].abs().cpu()


def raster_later(height: int, width: int, row: int, col: int, include_current: bool = True) -> torch.Tensor:
    """Boolean (H, W) map of the pixels at or after (row, col) in raster order (strictly after if not ``include_current``)."""
    index = torch.arange(height * width).reshape(height, width)
    current = row * width + col
    return index >= current if include_current else index > current


# ---------------------------------------------------------------------------------------------------------------
# The shared checkpoint "digits-pixelcnn" (chapter 13's binary PixelCNN, reused by chapter 5's likelihood table)
# ---------------------------------------------------------------------------------------------------------------
def train_digits_pixelcnn(device: torch.device | str = "cpu", steps: int = 600, seed: int = 0, channels: int = 32,
                          num_blocks: int = 4, batch_size: int = 64, lr: float = 3e-3) -> PixelCNN:
    """Chapter 13's binary PixelCNN (section 13.12), trained deterministically on the binarized digits' train split.

    The configuration of the chapter: ``PixelCNN(num_levels=2, channels=32, num_blocks=4)``,
    Adam with a one-cycle schedule (peak ``lr``, 10% warm-up), batches of 64
    binarized images (1 above mid-grey, :func:`binarize`), the loss (AR) per
    pixel. Seeded with ``seed``; returns the model in eval mode.
    """
    from genai_foundations.data.digits import load_digits
    from genai_foundations.training import batches, fit

    device = torch.device(device)
    torch.manual_seed(seed)
    model = PixelCNN(num_levels=2, channels=channels, num_blocks=num_blocks).to(device)
    train = binarize(load_digits("train").images).to(device)
    num_dims = train[0].numel()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.1)
    stream = batches(train, batch_size=batch_size, generator=torch.Generator().manual_seed(seed))
    fit(lambda step: model.nll(next(stream)[0]).mean() / num_dims, optimizer, steps,
        desc="PixelCNN (binary digits)", scheduler=scheduler)
    return model.eval()


@torch.no_grad()
def digits_pixelcnn_metrics(model: nn.Module) -> dict[str, float]:
    """Mean test NLL of a binary PixelCNN on the binarized digits' fixed test split (360 images): nats and bits/dim."""
    from genai_foundations.data.digits import load_digits

    test = binarize(load_digits("test").images)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        nll = model.nll(test.to(device)).double().cpu().mean().item()
    finally:
        model.train(was_training)
    return {"test_nll_nats": nll, "test_bits_per_dim": bits_per_dim(nll, test[0].numel())}


DIGITS_PIXELCNN_TRAINING = {"steps": 600, "seed": 0, "channels": 32, "num_blocks": 4, "batch_size": 64, "lr": 3e-3}


def digits_pixelcnn_checkpoint() -> tuple[PixelCNN, dict]:
    """``(model, config)`` for the shared checkpoint ``digits-pixelcnn`` (CPU, :data:`DIGITS_PIXELCNN_TRAINING`)."""
    kwargs = dict(DIGITS_PIXELCNN_TRAINING)
    model = train_digits_pixelcnn("cpu", **kwargs)
    config = {"model_kwargs": {"num_levels": 2, "channels": kwargs["channels"], "num_blocks": kwargs["num_blocks"]},
              "seed": kwargs["seed"],
              "training": {"function": f"{__name__}.train_digits_pixelcnn", "kwargs": kwargs,
                           "device": "cpu", "threads": 1}}
    return model, config
