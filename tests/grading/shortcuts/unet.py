"""Shortcut answers for exercise 14 (unet): each would pass a grader that ran the package's own blocks.

Left out because the grading cannot stop it (see ``genai_grading.assignments.unet``): task 1 through
``diffusers.models.embeddings.get_timestep_embedding(2 * math.pi * 1000 * x, dim, downscale_freq_shift=1,
max_period=1000)`` with both halves flipped, which runs inside a library the guard does not watch.
"""

SHORTCUTS = {
    # the reference, unwrapped (absent from the sandbox: its stub raises)
    "sinusoidal_embedding": (
        "import inspect\n"
        "from genai_foundations.architectures import unet as _unet\n"
        "def sinusoidal_embedding(x, dim):\n"
        "    return inspect.unwrap(_unet.sinusoidal_embedding)(x, dim)"),
    # the block's own forward pass
    "residual_block_forward": "def residual_block_forward(block, x, emb):\n    return block(x, emb)",
    # the module's forward through torch.func (it calls block.forward)
    "up_block_forward": (
        "def up_block_forward(block, x, skip, emb):\n"
        "    return torch.func.functional_call(block, dict(block.named_parameters()), (x, skip, emb))"),
    # give the layers back their package classes and run the package's forward pass
    "unet_forward": (
        "from genai_foundations.architectures import unet as _unet\n"
        "def unet_forward(model, x, emb):\n"
        "    for module in model.modules():\n"
        "        module.__class__ = getattr(_unet, type(module).__name__, type(module))\n"
        "    return _unet.UNet.forward.__globals__['unet_forward'](model, x, emb)"),
}
EXPECTED_ZERO = ["test_sinusoidal_embedding", "test_residual_block_forward", "test_up_block_forward",
                 "test_unet_forward"]
