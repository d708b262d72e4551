"""Shortcut answers for exercise 27 (libraries): each passes the hidden tests outside the sandbox."""

SHORTCUTS = {
    # the library module holding the given tensors, called through torch.func.functional_call
    "mha_from_torch_weights": (
        "from torch.func import functional_call\n"
        "def mha_from_torch_weights(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, n_heads, causal=False):\n"
        "    d, n = x.shape[-1], x.shape[1]\n"
        "    m = torch.nn.MultiheadAttention(d, n_heads, batch_first=True, dtype=x.dtype)\n"
        "    w = {'in_proj_weight': in_proj_weight, 'in_proj_bias': in_proj_bias,\n"
        "         'out_proj.weight': out_proj_weight, 'out_proj.bias': out_proj_bias}\n"
        "    mask = torch.ones(n, n, dtype=torch.bool).triu(1) if causal else None\n"
        "    return functional_call(m, w, (x, x, x), {'attn_mask': mask, 'need_weights': False})[0]"),
    # the fused kernel reached through the dispatcher, by a computed name
    "lstm_from_torch_weights": (
        "def lstm_from_torch_weights(x, weight_ih, weight_hh, bias_ih, bias_hh):\n"
        "    z = x.new_zeros(1, x.shape[0], weight_hh.shape[1])\n"
        "    out, h, c = getattr(torch.ops.aten, 'ls' + 'tm').input(x, [z, z], [weight_ih, weight_hh, bias_ih, bias_hh],\n"
        "                                                           True, 1, 0.0, False, False, True)\n"
        "    return out, h[0], c[0]"),
    # the package's reference, unwrapped (it is absent from the sandbox)
    "gpt2_attention_to_linear": (
        "import inspect\n"
        "from genai_foundations import library_equivalence as _le\n"
        "def gpt2_attention_to_linear(c_attn_weight, c_attn_bias, c_proj_weight, c_proj_bias):\n"
        "    return inspect.unwrap(_le.gpt2_attention_to_linear)(c_attn_weight, c_attn_bias, c_proj_weight, c_proj_bias)"),
    # the book's reverse step (blocked: the hidden tests import it), with the schedule rebuilt from alphas_cumprod
    "ddim_step_diffusers_index": (
        "from genai_foundations.algorithms.ddpm import NoiseSchedule, reverse_step\n"
        "def ddim_step_diffusers_index(sample, eps, k, k_prev, alphas_cumprod):\n"
        "    ac = alphas_cumprod.double()\n"
        "    betas = 1 - ac / torch.cat([torch.ones(1, dtype=ac.dtype), ac[:-1]])\n"
        "    return reverse_step(sample, k + 1, k_prev + 1, eps, NoiseSchedule(betas), eta=0.0)"),
}
EXPECTED_ZERO = ["test_mha_from_torch_weights", "test_lstm_from_torch_weights", "test_gpt2_attention_to_linear",
                 "test_ddim_step_diffusers_index"]
