"""Shortcut answers for exercise 17 (vit-dit): each passes the hidden tests outside the sandbox.

Not listed because not installed in the course environment: ``einops.rearrange`` (forbidden all the same).
"""

SHORTCUTS = {
    # PyTorch's window extraction gives the patches in (C, P, P) order; a permute fixes the order
    "patchify": (
        "def patchify(x, patch_size):\n"
        "    b, c, h, w = x.shape\n"
        "    if h % patch_size or w % patch_size:\n"
        "        raise ValueError('size')\n"
        "    cols = F.unfold(x.double(), patch_size, stride=patch_size).to(x.dtype).transpose(1, 2)\n"
        "    n = cols.shape[1]\n"
        "    return cols.reshape(b, n, c, patch_size, patch_size).permute(0, 1, 3, 4, 2).reshape(b, n, -1)"),
    # ... and F.fold puts them back, reached through torch's internal alias
    "unpatchify": (
        "def unpatchify(patches, patch_size, height, width):\n"
        "    b, n, d = patches.shape\n"
        "    p = patch_size\n"
        "    if height % p or width % p or n != (height // p) * (width // p) or d % (p * p):\n"
        "        raise ValueError('size')\n"
        "    c = d // (p * p)\n"
        "    cols = patches.reshape(b, n, p, p, c).permute(0, 4, 2, 3, 1).reshape(b, c * p * p, n)\n"
        "    return torch._C._nn.col2im(cols, (height, width), (p, p), (1, 1), (0, 0), (p, p))"),
    # the package's reference, unwrapped
    "prepend_class_token": (
        "import inspect\n"
        "from genai_foundations.architectures import vit as _vit\n"
        "def prepend_class_token(tokens, class_token, positions):\n"
        "    return inspect.unwrap(_vit.prepend_class_token)(tokens, class_token, positions)"),
    # the package's reference, unwrapped (absent from the sandbox: its stub raises)
    "conv_weight_from_linear": (
        "import inspect\n"
        "from genai_foundations.architectures import vit as _vit\n"
        "def conv_weight_from_linear(weight, patch_size, channels):\n"
        "    return inspect.unwrap(_vit.conv_weight_from_linear)(weight, patch_size, channels)"),
    # the package's DiT block loaded with the given modules
    "adaln_zero_block": (
        "from genai_foundations.architectures.dit import DiTBlock\n"
        "def adaln_zero_block(h, c, adaLN, attention, mlp):\n"
        "    d = h.shape[-1]\n"
        "    block = DiTBlock(d, attention.num_heads, mlp_ratio=mlp[0].out_features / d).to(h.dtype)\n"
        "    block.adaLN = adaLN\n"
        "    block.attention.load_from_torch(attention)\n"
        "    block.mlp.fc1.load_state_dict(mlp[0].state_dict())\n"
        "    block.mlp.fc2.load_state_dict(mlp[2].state_dict())\n"
        "    return block(h, c)"),
}
EXPECTED_ZERO = ["test_patchify", "test_unpatchify", "test_prepend_class_token", "test_conv_weight_from_linear",
                 "test_adaln_zero_block"]
