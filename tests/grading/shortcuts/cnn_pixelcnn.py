"""Shortcut answers for exercise 13 (cnn-pixelcnn): each would pass a grader that did not forbid them.

Left out because the grading cannot stop them (see ``genai_grading.assignments.cnn_pixelcnn``): a
convolution computed inside library code the runtime guard does not watch, such as
``torchvision.ops.deform_conv2d(x, torch.zeros(...), weight, bias, stride, padding)`` (zero offsets), or
the package's ``MaskedConv2d.forward`` on an instance assembled with ``nn.Conv2d.__init__``.
"""

SHORTCUTS = {
    # the review's one-liner: the ATen convolution under another name
    "conv2d": (
        "def conv2d(x, weight, bias=None, stride=1, padding=0):\n"
        "    return torch.convolution(x, weight, bias, [stride, stride], [padding, padding], [1, 1], False, [0, 0], 1)"),
    # the library batch norm on copies of the running statistics
    "batch_norm_train": (
        "def batch_norm_train(x, running_mean, running_var, gamma, beta, momentum=0.1, eps=1e-5):\n"
        "    running_mean, running_var = running_mean.clone(), running_var.clone()\n"
        "    y = F.batch_norm(x, running_mean, running_var, gamma, beta, True, momentum, eps)\n"
        "    return y, running_mean, running_var"),
    # the package's raster-order helper: a mask is the complement of 'at or after the centre'
    "pixelcnn_mask": (
        "from genai_foundations.architectures.pixelcnn import raster_later\n"
        "def pixelcnn_mask(kernel_size, mask_type):\n"
        "    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size\n"
        "    later = raster_later(kh, kw, kh // 2, kw // 2, include_current=(mask_type == 'A'))\n"
        "    return (~later).to(torch.get_default_dtype())"),
    # the package's own sampling step
    "pixelcnn_sample_step": (
        "from genai_foundations.architectures import pixelcnn as _pixelcnn\n"
        "def pixelcnn_sample_step(model, canvas, row, col, u):\n"
        "    return _pixelcnn.sample_step(model, canvas, row, col, u)"),
}
EXPECTED_ZERO = ["test_conv2d", "test_batch_norm_train", "test_pixelcnn_mask", "test_pixelcnn_sample_step"]
