"""Exercise 13 (cnn-pixelcnn): the shortcuts each test cell forbids, and a helper its hidden tests share.

The four tasks are graded by the hidden tests in ``solutions/cnn-pixelcnn/cnn-pixelcnn.ipynb``
(``check_function`` against the package's ``convolution.conv2d``, ``convolution.batch_norm``,
``pixelcnn.pixelcnn_mask`` and ``pixelcnn.sample_step``, which the sandbox does not have). The
hidden tests also import the package helpers that would do a task in one call, so that they are
absent from the sandbox too: ``convolution.conv_transpose2d`` (its adjoint is a convolution) and
``pixelcnn.raster_later`` (its complement is a mask).

``FORBIDDEN`` names the library entry points that do a task for the student:

* the convolution: every ATen convolution kernel and its aliases (``torch.convolution``,
  ``torch._convolution``, ``torch.ops.aten.convolution``, ``torch._C._nn.thnn_conv2d``,
  ``torch.mkldnn_convolution``, ``F.conv1d``/``conv3d`` on a reshaped input, the transposed
  convolutions whose adjoint it is, ``torch.nn.grad.conv2d_weight``), and autograd (the adjoint
  of a transposed convolution, or of the package's written-out one, is a convolution). ``F.unfold``
  and ``Tensor.unfold`` stay allowed: the chapter computes the convolution that way;
* batch normalisation: every batch/instance/group/layer/RMS norm kernel, functional and module
  (instance norm on the transposed batch, or a layer norm over each channel's values, is batch
  norm's normalisation);
* the sampling step: the samplers that draw their own random numbers (the point is to invert
  the CDF at the given ``u``); they would fail the value checks anyway.

What this cannot stop (tried, 4 of 4 points each): a convolution computed inside library or package
code, whose frames the runtime guard treats as legitimate callers, e.g.
``torchvision.ops.deform_conv2d(x, zero_offsets, weight, bias, stride=s, padding=p)`` (a direct
``torch.ops.torchvision.deform_conv2d`` is caught; the scan will flag the ``torchvision`` spellings
once ``genai_grading.scan.LIBRARIES`` includes ``"torchvision"``), or the package's ``MaskedConv2d.forward`` on an
instance built with ``MaskedConv2d.__new__`` and ``MaskedConv2d.__mro__[1].__init__`` (its own
constructor, which calls ``pixelcnn_mask``, raises in the sandbox) and subsampled for the stride.
Stopping them needs a stricter guard for tasks whose answer needs no package code at all (count a
forbidden call whatever frame makes it while the answer runs) and a scan that reads every import.
"""

from __future__ import annotations

import torch

CONVOLUTION = (
    "torch.nn.functional.conv2d", "torch.conv2d", "torch.nn.Conv2d", "torch.nn.LazyConv2d",
    "torch.nn.functional.conv1d", "torch.conv1d", "torch.nn.Conv1d", "torch.nn.functional.conv3d", "torch.conv3d",
    "torch.nn.Conv3d", "torch.convolution", "torch._convolution", "torch.ops.aten.convolution_overrideable",
    "torch.nn.functional.conv_transpose1d", "torch.nn.functional.conv_transpose2d",
    "torch.nn.functional.conv_transpose3d", "torch.conv_transpose1d", "torch.conv_transpose2d",
    "torch.conv_transpose3d", "torch.nn.ConvTranspose2d", "torch.conv_tbc", "torch.mkldnn_convolution",
    "torch.cudnn_convolution", "torch.miopen_convolution", "torch._C._nn.thnn_conv2d",
    "torch._C._nn._slow_conv2d_forward", "torch._C._nn.slow_conv_dilated2d", "torch._C._nn.slow_conv3d",
    "torch._C._nn.slow_conv_transpose2d", "torch._nnpack_spatial_convolution", "torch._C._nn._conv_depthwise2d",
    "torch.ops.aten.convolution_backward", "torch.nn.grad.conv2d_input", "torch.nn.grad.conv2d_weight",
    "torchvision.ops.deform_conv2d", "scipy.signal.correlate", "scipy.signal.correlate2d", "scipy.signal.convolve", "scipy.signal.convolve2d",
    "scipy.signal.fftconvolve", "scipy.ndimage.correlate", "numpy.convolve",
)
AUTOGRAD = ("torch.autograd.grad", "Tensor.backward", "torch.autograd.backward", "torch.autograd.functional.vjp",
            "torch.autograd.functional.jacobian", "torch.func.vjp", "torch.func.jacrev", "torch.func.grad")
BATCH_NORM = (
    "torch.nn.functional.batch_norm", "torch.batch_norm", "torch.native_batch_norm", "torch._native_batch_norm_legit",
    "torch._native_batch_norm_legit_no_training", "torch.ops.aten._native_batch_norm_legit_functional",
    "torch._batch_norm_with_update", "torch._batch_norm_no_update", "torch._batch_norm_impl_index",
    "torch.batch_norm_stats", "torch.batch_norm_elemt", "torch.batch_norm_update_stats",
    "torch.batch_norm_gather_stats", "torch.cudnn_batch_norm", "torch.miopen_batch_norm",
    "torch.nn.BatchNorm1d", "torch.nn.BatchNorm2d", "torch.nn.BatchNorm3d", "torch.nn.SyncBatchNorm",
    "torch.nn.LazyBatchNorm2d", "torch.nn.functional.instance_norm", "torch.instance_norm",
    "torch.nn.InstanceNorm1d", "torch.nn.InstanceNorm2d", "torch.nn.functional.group_norm", "torch.group_norm",
    "torch.native_group_norm", "torch.nn.GroupNorm", "torch.nn.functional.layer_norm", "torch.layer_norm",
    "torch.native_layer_norm", "torch.nn.LayerNorm", "torch.nn.functional.rms_norm", "torch.rms_norm",
    "torch._fused_rms_norm", "torch.nn.RMSNorm",
)
SAMPLERS = ("torch.multinomial", "Tensor.multinomial", "torch.bernoulli", "Tensor.bernoulli_",
            "torch.distributions.Categorical", "torch.distributions.Bernoulli", "torch.distributions.OneHotCategorical")

FORBIDDEN: dict[str, list[str]] = {
    "test_conv2d": list(CONVOLUTION + AUTOGRAD),
    "test_batch_norm_train": list(BATCH_NORM),
    "test_pixelcnn_mask": [],   # no library call builds it; the package's helpers are absent from the sandbox
    "test_pixelcnn_sample_step": list(SAMPLERS),
}


def safe_uniforms(model: torch.nn.Module, canvas: torch.Tensor, row: int, col: int, u: torch.Tensor,
                  margin: float = 1e-4) -> torch.Tensor:
    """``u`` with every entry that lies within ``margin`` of a step of the conditional's CDF moved to the
    middle of its step, so that no correct answer can draw another level because it rounds differently."""
    with torch.no_grad():
        logits = model(canvas)[:, :, row, col].double()
    if logits.shape[1] == 1:
        p1 = torch.sigmoid(logits)
        probs = torch.cat([1 - p1, p1], dim=1)
    else:
        probs = torch.softmax(logits, dim=1)
    cdf = probs.cumsum(dim=1)
    cdf[:, -1] = 1.0
    out = u.clone()
    for i in range(len(u)):
        if (cdf[i] - u[i].double()).abs().min() < margin:
            level = int((cdf[i] < u[i].double()).sum().clamp(max=cdf.shape[1] - 1))
            lower = float(cdf[i, level - 1]) if level > 0 else 0.0
            out[i] = 0.5 * (lower + float(cdf[i, level]))
    return out
