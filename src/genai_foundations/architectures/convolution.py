"""Convolutional building blocks written out (chapter 13), each checked against PyTorch in the unit tests.

Notation (chapter 13): a batch of feature maps :math:`x` of shape
``(B, C_in, H, W)``; a filter bank :math:`w` of shape ``(C_out, C_in, k_h, k_w)``
with bias :math:`b` of shape ``(C_out,)``; stride :math:`s`, zero padding
:math:`p`, dilation :math:`d`.

* convolution (deep-learning convention: no kernel flip, i.e. cross-correlation)

  .. math:: y_{n,o,i,j} = b_o + \\sum_{c} \\sum_{u,v} w_{o,c,u,v}\\; \\tilde x_{n,c,\\,s i + d u,\\, s j + d v}
            \\qquad\\text{(CONV)}

  where :math:`\\tilde x` is :math:`x` padded with :math:`p` zeros on each side
  (:func:`conv2d`, via ``unfold``: every receptive field becomes a column and
  the convolution becomes one matrix product);
* output size :math:`\\lfloor (n + 2p - d(k-1) - 1)/s \\rfloor + 1` (SIZE) (:func:`conv_output_size`);
* transposed convolution: every input pixel spreads a copy of the filter,
  scaled by its value, into the output at stride :math:`s`; output size
  :math:`(n-1)s - 2p + d(k-1) + 1 + \\text{output\\_padding}` (TSIZE)
  (:func:`conv_transpose2d`, :func:`conv_transpose_output_size`);
* max and average pooling (:func:`max_pool2d`, :func:`avg_pool2d`);
* batch normalisation per channel with running statistics (BN) (:func:`batch_norm`,
  :class:`BatchNorm2d`), inverted dropout (:func:`dropout`, :class:`Dropout`);
* the residual block :math:`y = \\mathrm{ReLU}(\\mathrm{skip}(x) + f(x))` (:class:`BasicResidualBlock`);
* the 10-class CIFAR classifier of the chapter's parameter table (:func:`cifar_table_cnn`) and the
  small Conv-BN-ReLU-Pool pipeline trained on the 8x8 digits (:class:`DigitsPipelineCNN`).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F


IntPair = int | tuple[int, int]


def _pair(value: IntPair, name: str, minimum: int) -> tuple[int, int]:
    """``3 -> (3, 3)``; checks that both entries are ints >= ``minimum``."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return pair  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------------------------
# Output sizes
# ---------------------------------------------------------------------------------------------------------------
def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Length of a convolution's (or pooling's) output along one axis, equation (SIZE):

    .. math:: n_{out} = \\Big\\lfloor \\frac{n + 2p - d(k - 1) - 1}{s} \\Big\\rfloor + 1 .

    With ``dilation = 1`` this is :math:`\\lfloor (n + 2p - k)/s \\rfloor + 1`. The floor
    matters whenever the stride does not divide :math:`n + 2p - k`: the last,
    incomplete window is dropped. Raises ``ValueError`` when the (dilated)
    kernel does not fit into the padded input.
    """
    for name, value, minimum in (("size", size, 1), ("kernel_size", kernel_size, 1), ("stride", stride, 1),
                                 ("padding", padding, 0), ("dilation", dilation, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    span = dilation * (kernel_size - 1) + 1
    if size + 2 * padding < span:
        raise ValueError(f"a kernel spanning {span} pixels does not fit into an input of size {size} "
                         f"with padding {padding}")
    return (size + 2 * padding - span) // stride + 1


def conv_transpose_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0,
                               output_padding: int = 0, dilation: int = 1) -> int:
    """Length of a transposed convolution's output along one axis, equation (TSIZE):

    .. math:: n_{out} = (n - 1)\\,s - 2p + d(k - 1) + 1 + \\text{output\\_padding} .

    A convolution with stride :math:`s` maps several input sizes to the same
    output size (the floor in (SIZE)); ``output_padding`` (``< s``) picks which
    of them the transposed convolution restores.
    """
    for name, value, minimum in (("size", size, 1), ("kernel_size", kernel_size, 1), ("stride", stride, 1),
                                 ("padding", padding, 0), ("output_padding", output_padding, 0),
                                 ("dilation", dilation, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    if output_padding >= max(stride, dilation):
        raise ValueError(f"output_padding must be smaller than the stride or the dilation, got {output_padding}")
    out = (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + 1 + output_padding
    if out < 1:
        raise ValueError(f"padding {padding} removes the whole output (size {out})")
    return out


# ---------------------------------------------------------------------------------------------------------------
# Convolution and transposed convolution
# ---------------------------------------------------------------------------------------------------------------
def _check_conv_inputs(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, channel_axis: int) -> None:
    if x.dim() != 4:
        raise ValueError(f"expected an input of shape (B, C, H, W), got {tuple(x.shape)}")
    if weight.dim() != 4:
        raise ValueError(f"expected a weight of shape (C_out, C_in, k_h, k_w) (or (C_in, C_out, k_h, k_w) for a "
                         f"transposed convolution), got {tuple(weight.shape)}")
    if weight.shape[channel_axis] != x.shape[1]:
        raise ValueError(f"the input has {x.shape[1]} channels but the weight expects {weight.shape[channel_axis]} "
                         f"(weight shape {tuple(weight.shape)})")
    out_channels = weight.shape[1 - channel_axis]
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise ValueError(f"expected a bias of shape ({out_channels},), got {tuple(bias.shape)}")


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, stride: IntPair = 1,
           padding: IntPair = 0, dilation: IntPair = 1) -> torch.Tensor:
    """2-D convolution (CONV) as one matrix product, the way ``F.conv2d`` computes it.

    ``x`` (B, C_in, H, W), ``weight`` (C_out, C_in, k_h, k_w), ``bias`` (C_out,) or None.
    ``F.unfold`` cuts every receptive field (with padding and stride) into a
    column of length :math:`C_{in} k_h k_w`; each output pixel is then the dot
    product of the flattened filter with its column, plus the bias. Returns
    (B, C_out, H_out, W_out) with the sizes of (SIZE).
    """
    _check_conv_inputs(x, weight, bias, channel_axis=1)
    (kh, kw), (sh, sw) = weight.shape[2:], _pair(stride, "stride", 1)
    (ph, pw), (dh, dw) = _pair(padding, "padding", 0), _pair(dilation, "dilation", 1)
    h_out = conv_output_size(x.shape[2], kh, sh, ph, dh)
    w_out = conv_output_size(x.shape[3], kw, sw, pw, dw)
    columns = F.unfold(x, (kh, kw), dilation=(dh, dw), padding=(ph, pw), stride=(sh, sw))  # (B, C_in kh kw, L)
    out = weight.reshape(weight.shape[0], -1) @ columns                                      # (B, C_out, L)
    if bias is not None:
        out = out + bias[:, None]
    return out.reshape(x.shape[0], weight.shape[0], h_out, w_out)


def conv_transpose2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, stride: IntPair = 1,
                     padding: IntPair = 0, output_padding: IntPair = 0, dilation: IntPair = 1) -> torch.Tensor:
    """Transposed convolution from scratch: every input pixel spreads a weighted copy of the filter.

    ``x`` (B, C_in, H, W), ``weight`` (C_in, C_out, k_h, k_w) (PyTorch's layout
    for transposed convolutions), ``bias`` (C_out,) or None. Input pixel
    :math:`(i, j)` adds :math:`\\sum_c x_{n,c,i,j}\\, w_{c,o,u,v}` to output
    position :math:`(s i + d u - p,\\ s j + d v - p)`; contributions that land
    on the same position are summed. The loop runs over the :math:`k_h k_w`
    filter taps, each adding a strided slice at once. Output size (TSIZE).
    This is the adjoint (matrix transpose) of :func:`conv2d` with the same
    weight, stride, padding and dilation, hence the name.
    """
    _check_conv_inputs(x, weight, bias, channel_axis=0)
    (kh, kw), (sh, sw) = weight.shape[2:], _pair(stride, "stride", 1)
    (ph, pw), (dh, dw) = _pair(padding, "padding", 0), _pair(dilation, "dilation", 1)
    (oph, opw) = _pair(output_padding, "output_padding", 0)
    h_out = conv_transpose_output_size(x.shape[2], kh, sh, ph, oph, dh)
    w_out = conv_transpose_output_size(x.shape[3], kw, sw, pw, opw, dw)
    B, _, H, W = x.shape
    full = x.new_zeros(B, weight.shape[1], h_out + 2 * ph, w_out + 2 * pw)  # before cropping the padding
    for u in range(kh):
        for v in range(kw):
            spread = torch.einsum("nchw,co->nohw", x, weight[:, :, u, v])
            rows = slice(dh * u, dh * u + sh * (H - 1) + 1, sh)
            cols = slice(dw * v, dw * v + sw * (W - 1) + 1, sw)
            full[:, :, rows, cols] += spread
    out = full[:, :, ph:ph + h_out, pw:pw + w_out]
    if bias is not None:
        out = out + bias[:, None, None]
    return out


def conv2d_matrix(in_size: tuple[int, int], weight: torch.Tensor, stride: IntPair = 1,
                  padding: IntPair = 0) -> torch.Tensor:
    """The matrix :math:`C` with :math:`\\mathrm{vec}(y) = C\\,\\mathrm{vec}(x)` for a single-channel convolution.

    ``weight`` has shape (k_h, k_w). Built column by column by convolving the
    unit images. :func:`conv_transpose2d` with the same filter multiplies by
    :math:`C^\\top` (the chapter checks this).
    """
    if weight.dim() != 2:
        raise ValueError(f"expected a single-channel filter of shape (k_h, k_w), got {tuple(weight.shape)}")
    H, W = in_size
    basis = torch.eye(H * W, dtype=weight.dtype, device=weight.device).reshape(H * W, 1, H, W)
    out = conv2d(basis, weight[None, None], stride=stride, padding=padding)
    return out.reshape(H * W, -1).T


# ---------------------------------------------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------------------------------------------
def _windows(x: torch.Tensor, kernel_size: IntPair, stride: IntPair | None, padding: IntPair,
             pad_value: float) -> tuple[torch.Tensor, int, int]:
    """Every pooling window as a column: (B, C, k_h k_w, L), with the output height and width."""
    if x.dim() != 4:
        raise ValueError(f"expected an input of shape (B, C, H, W), got {tuple(x.shape)}")
    kh, kw = _pair(kernel_size, "kernel_size", 1)
    sh, sw = _pair(stride if stride is not None else kernel_size, "stride", 1)
    ph, pw = _pair(padding, "padding", 0)
    if 2 * ph > kh or 2 * pw > kw:
        raise ValueError(f"padding must be at most half the kernel size, got padding {padding} for kernel {kernel_size}")
    h_out, w_out = conv_output_size(x.shape[2], kh, sh, ph), conv_output_size(x.shape[3], kw, sw, pw)
    B, C = x.shape[:2]
    padded = F.pad(x, (pw, pw, ph, ph), value=pad_value)
    columns = F.unfold(padded.reshape(B * C, 1, *padded.shape[2:]), (kh, kw), stride=(sh, sw))
    return columns.reshape(B, C, kh * kw, -1), h_out, w_out


def max_pool2d(x: torch.Tensor, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0) -> torch.Tensor:
    """Max pooling: the largest value of each window, per channel (padding counts as :math:`-\\infty`).

    ``stride`` defaults to ``kernel_size`` (non-overlapping windows), as in
    ``F.max_pool2d``; the output size follows (SIZE).
    """
    columns, h_out, w_out = _windows(x, kernel_size, stride, padding, float("-inf"))
    return columns.amax(dim=2).reshape(*x.shape[:2], h_out, w_out)


def avg_pool2d(x: torch.Tensor, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0) -> torch.Tensor:
    """Average pooling: the mean of each window, per channel (padded zeros count, as in ``F.avg_pool2d``)."""
    columns, h_out, w_out = _windows(x, kernel_size, stride, padding, 0.0)
    return columns.mean(dim=2).reshape(*x.shape[:2], h_out, w_out)


# ---------------------------------------------------------------------------------------------------------------
# Batch normalisation and dropout
# ---------------------------------------------------------------------------------------------------------------
def batch_norm(x: torch.Tensor, running_mean: torch.Tensor, running_var: torch.Tensor,
               weight: torch.Tensor | None = None, bias: torch.Tensor | None = None, training: bool = True,
               momentum: float = 0.1, eps: float = 1e-5) -> torch.Tensor:
    """Batch normalisation per channel (BN), updating the running statistics in place when training.

    ``x`` is (B, C) or (B, C, H, W); ``running_mean``, ``running_var``, ``weight``
    (:math:`\\gamma`) and ``bias`` (:math:`\\beta`) have shape (C,). In training mode,
    for each channel :math:`c` over the :math:`m = B H W` values of the batch,

    .. math:: \\mu_c = \\tfrac1m \\sum x, \\quad \\sigma_c^2 = \\tfrac1m \\sum (x - \\mu_c)^2, \\quad
              y = \\gamma_c \\frac{x - \\mu_c}{\\sqrt{\\sigma_c^2 + \\epsilon}} + \\beta_c,

    and the running statistics move towards the batch's by the momentum
    :math:`\\alpha`: :math:`\\hat\\mu \\leftarrow (1-\\alpha)\\hat\\mu + \\alpha\\mu_c` and
    :math:`\\hat\\sigma^2 \\leftarrow (1-\\alpha)\\hat\\sigma^2 + \\alpha \\tfrac{m}{m-1}\\sigma_c^2`
    (the *unbiased* variance, as PyTorch does). In eval mode the running
    statistics replace :math:`\\mu_c, \\sigma_c^2` and nothing is updated.
    """
    if x.dim() not in (2, 4):
        raise ValueError(f"expected an input of shape (B, C) or (B, C, H, W), got {tuple(x.shape)}")
    C = x.shape[1]
    for name, tensor in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                         ("bias", bias)):
        if tensor is not None and tuple(tensor.shape) != (C,):
            raise ValueError(f"{name} must have shape ({C},) for an input with {C} channels, got {tuple(tensor.shape)}")
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must lie in [0, 1], got {momentum}")
    axes = [0] + list(range(2, x.dim()))
    shape = [1, C] + [1] * (x.dim() - 2)
    if training:
        m = x.numel() // C
        if m < 2:
            raise ValueError("batch norm in training mode needs more than one value per channel")
        mean = x.mean(dim=axes)
        var = ((x - mean.reshape(shape)) ** 2).mean(dim=axes)
        with torch.no_grad():
            running_mean.mul_(1 - momentum).add_(momentum * mean.detach())
            running_var.mul_(1 - momentum).add_(momentum * var.detach() * m / (m - 1))
    else:
        mean, var = running_mean, running_var
    y = (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


class BatchNorm2d(nn.Module):
    """Batch normalisation per channel as a module (see :func:`batch_norm`); a drop-in for ``nn.BatchNorm2d``.

    Learnable :math:`\\gamma` (``weight``, initialised to 1) and :math:`\\beta` (``bias``, 0);
    buffers ``running_mean`` (0), ``running_var`` (1) and ``num_batches_tracked``,
    under the same names as PyTorch, so that ``state_dict`` s are interchangeable.
    Also accepts (B, C) inputs, like ``nn.BatchNorm1d``.
    """

    def __init__(self, num_features: int, momentum: float = 0.1, eps: float = 1e-5):
        super().__init__()
        if num_features < 1:
            raise ValueError(f"num_features must be positive, got {num_features}")
        self.num_features, self.momentum, self.eps = num_features, momentum, eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.num_batches_tracked += 1
        return batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, self.training,
                          self.momentum, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_features}, momentum={self.momentum}, eps={self.eps}"


def dropout(x: torch.Tensor, p: float = 0.5, training: bool = True,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Inverted dropout: in training, zero each value with probability ``p`` and scale the rest by :math:`1/(1-p)`.

    The scaling keeps the expected value of every unit unchanged,
    :math:`\\mathbb E[y] = (1-p) \\cdot x/(1-p) = x`, so that at inference, when
    dropout is off and :math:`y = x`, the next layer sees inputs of the same
    size as during training. ``generator`` (on ``x``'s device) makes the mask
    reproducible.
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"the dropout probability p must lie in [0, 1), got {p}")
    if not training or p == 0.0:
        return x
    keep = torch.rand(x.shape, generator=generator, device=x.device) >= p
    return x * keep.to(x.dtype) / (1.0 - p)


class Dropout(nn.Module):
    """Inverted dropout as a module (see :func:`dropout`): active in ``train()`` mode, the identity in ``eval()``."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"the dropout probability p must lie in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


# ---------------------------------------------------------------------------------------------------------------
# Residual block and the two example networks
# ---------------------------------------------------------------------------------------------------------------
class BasicResidualBlock(nn.Module):
    """The basic residual block of ResNet: :math:`y = \\mathrm{ReLU}(\\mathrm{skip}(x) + f(x))` with

    .. math:: h = \\mathrm{ReLU}(\\mathrm{BN}(\\mathrm{Conv}_{3\\times3}(x))), \\qquad f(x) = \\mathrm{BN}(\\mathrm{Conv}_{3\\times3}(h)).

    ``skip`` is the identity when the shapes agree and a strided 1x1
    convolution followed by BN when the channel count or the resolution changes.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = BatchNorm2d(out_channels)
        self.skip: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.skip = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                      BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.skip(x) + self.bn2(self.conv2(h)))


def cifar_table_cnn(num_classes: int = 10, dropout_p: float = 0.5) -> nn.Sequential:
    """The 10-class classifier of the chapter's parameter table, for (B, 3, 32, 32) images.

    Conv(3->32) BN LeakyReLU, Conv(32->32, stride 2) BN LeakyReLU,
    Conv(32->64) BN LeakyReLU, Conv(64->64, stride 2) BN LeakyReLU, Flatten (4096),
    Linear(4096->128) BN LeakyReLU Dropout, Linear(128->num_classes). All
    convolutions are 3x3 with padding 1 ("same" padding), so the stride-2
    layers halve the resolution: 32 -> 16 -> 8. Built from ``torch.nn`` layers
    so that its counts can be compared with the table.
    """
    def block(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
        return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]

    return nn.Sequential(
        *block(3, 32, 1), *block(32, 32, 2), *block(32, 64, 1), *block(64, 64, 2),
        nn.Flatten(),
        nn.Linear(64 * 8 * 8, 128), nn.BatchNorm1d(128), nn.LeakyReLU(0.2), nn.Dropout(dropout_p),
        nn.Linear(128, num_classes),
    )


def layer_table(model: nn.Sequential, input_shape: Sequence[int]) -> list[dict]:
    """One row per layer of ``model``: name, output shape (without the batch axis), parameters and buffers.

    ``parameters`` counts the trainable numbers (``p.numel()`` over
    ``layer.parameters()``); ``buffers`` counts the stored non-trainable numbers
    such as batch norm's running mean and variance (``num_batches_tracked``, a
    step counter, is left out). Runs one example through the model in eval mode.
    """
    if not isinstance(model, nn.Sequential):
        raise ValueError(f"expected an nn.Sequential, got {type(model).__name__}")
    rows = []
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            h = torch.zeros(1, *input_shape, device=device)
            for layer in model:
                h = layer(h)
                buffers = sum(b.numel() for name, b in layer.named_buffers() if not name.endswith("num_batches_tracked"))
                rows.append({"layer": type(layer).__name__, "output": tuple(h.shape[1:]),
                             "parameters": sum(p.numel() for p in layer.parameters()), "buffers": buffers})
    finally:
        model.train(was_training)
    return rows


class DigitsPipelineCNN(nn.Module):
    """The typical CNN pipeline, sized for the (B, 1, 8, 8) digits, built from this module's layers:

    [Conv 3x3 -> BatchNorm -> ReLU -> MaxPool 2x2] x 2 -> Flatten -> Linear -> ReLU -> Dropout -> Linear.

    Resolution 8 -> 4 -> 2; ``channels`` = (c1, c2). The batch norm and dropout
    layers are the from-scratch :class:`BatchNorm2d` and :class:`Dropout`.
    """

    def __init__(self, channels: tuple[int, int] = (16, 32), hidden: int = 64, num_classes: int = 10,
                 dropout_p: float = 0.3):
        super().__init__()
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1, bias=False), BatchNorm2d(c1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1, bias=False), BatchNorm2d(c2), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(c2 * 2 * 2, hidden), nn.ReLU(), Dropout(dropout_p),
                                  nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, num_classes) for digits (B, 1, 8, 8)."""
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, 8, 8):
            raise ValueError(f"expected digits of shape (B, 1, 8, 8), got {tuple(x.shape)}")
        return self.head(self.features(x))
