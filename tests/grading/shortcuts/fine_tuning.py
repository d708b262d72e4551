"""Shortcut answers for exercise 21 (fine-tuning): each passes the hidden tests outside the sandbox."""

SHORTCUTS = {
    # the package's LoRA layer around the given weights
    "lora_forward": (
        "from torch import nn\n"
        "from genai_foundations.algorithms.lora import LoRALinear\n"
        "def lora_forward(x, weight, bias, A, B, alpha):\n"
        "    base = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None).to(weight.dtype)\n"
        "    with torch.no_grad():\n"
        "        base.weight.copy_(weight)\n"
        "        if bias is not None:\n"
        "            base.bias.copy_(bias)\n"
        "    layer = LoRALinear(base, A.shape[0], alpha)\n"
        "    layer.lora_A, layer.lora_B = nn.Parameter(A), nn.Parameter(B)\n"
        "    return layer(x)"),
    # the package's reference, unwrapped
    "merge_lora": (
        "import inspect\nfrom genai_foundations.algorithms import lora as _lora\n"
        "def merge_lora(weight, A, B, alpha):\n"
        "    return inspect.unwrap(_lora.merge_lora)(weight, A, B, alpha)"),
    # the package's 4-bit storage, unpacked again
    "quantize_blockwise": (
        "from genai_foundations.algorithms.quantization import quantize_tensor, unpack_4bit\n"
        "def quantize_blockwise(w, code, block_size=64):\n"
        "    q = quantize_tensor(w, code, block_size)\n"
        "    return unpack_4bit(q.packed, tuple(w.shape)), q.absmax.to(w.dtype)"),
    # the reference through a module attribute
    "dequantize_blockwise": (
        "import genai_foundations.algorithms.quantization as _q\n"
        "def dequantize_blockwise(codes, absmax, code):\n"
        "    return _q.dequantize_blockwise(codes, absmax, code)"),
    # PyTorch's KL divergence, reached through getattr
    "distillation_loss": (
        "import torch.nn.functional as F\n"
        "def distillation_loss(student_logits, teacher_logits, temperature):\n"
        "    v = student_logits.shape[-1]\n"
        "    kl = getattr(F, 'kl_' + 'div')\n"
        "    return temperature ** 2 * kl(F.log_softmax(student_logits.reshape(-1, v) / temperature, -1),\n"
        "                                 F.log_softmax(teacher_logits.detach().reshape(-1, v) / temperature, -1),\n"
        "                                 log_target=True, reduction='batchmean')"),
}
EXPECTED_ZERO = ["test_lora_forward", "test_merge_lora", "test_quantize_blockwise", "test_dequantize_blockwise",
                 "test_distillation_loss"]
