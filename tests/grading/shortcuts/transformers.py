"""Shortcut answers for exercise 16 (transformers): each would pass a naive grader (values, and gradients).

Left out because the grading cannot stop it today (see ``genai_grading.assignments.transformers``):
``transformers``' attention reached through a name the scan cannot follow (it runs from library frames, which
the runtime guard exempts).
"""

SHORTCUTS = {
    # the math kernel behind F.scaled_dot_product_attention returns the output and the weights, through the
    # dispatcher by a computed name
    "scaled_dot_product_attention": (
        "def scaled_dot_product_attention(q, k, v, mask=None):\n"
        "    if mask is not None and not mask.any(-1).all():\n"
        "        raise ValueError('a row is fully masked')\n"
        "    kernel = getattr(torch.ops.aten, '_scaled_dot_product_attention' + '_math')\n"
        "    q, k, v = torch.broadcast_tensors(q, k, v) if q.shape[:-2] != k.shape[:-2] else (q, k, v)\n"
        "    bias = None if mask is None else torch.zeros(mask.shape, dtype=q.dtype).masked_fill(~mask, float('-inf'))\n"
        "    out, weights = kernel(q, k, v, attn_mask=bias)\n"
        "    return out, weights"),
    # PyTorch's functional multi-head attention with separate projection weights
    "multi_head_attention": (
        "import torch.nn.functional as F\n"
        "def multi_head_attention(x, context, params, n_heads, mask=None):\n"
        "    c = x if context is None else context\n"
        "    if mask is not None and mask.dim() == 4:\n"
        "        mask = mask.expand(x.shape[0], n_heads, x.shape[1], c.shape[1]).reshape(-1, x.shape[1], c.shape[1])\n"
        "    out, _ = F.multi_head_attention_forward(\n"
        "        x.transpose(0, 1), c.transpose(0, 1), c.transpose(0, 1), x.shape[-1], n_heads, None,\n"
        "        torch.cat([params['b_q'], params['b_k'], params['b_v']]), None, None, False, 0.0,\n"
        "        params['W_o'], params['b_o'], training=False, need_weights=False,\n"
        "        attn_mask=None if mask is None else ~mask, use_separate_proj_weight=True,\n"
        "        q_proj_weight=params['W_q'], k_proj_weight=params['W_k'], v_proj_weight=params['W_v'])\n"
        "    return out.transpose(0, 1)"),
    # transformers' nucleus filter
    "top_p_filter": (
        "from transformers import TopPLogitsWarper\n"
        "def top_p_filter(logits, p):\n"
        "    if p >= 1.0:\n"
        "        return logits.clone()\n"
        "    flat = logits.reshape(-1, logits.shape[-1])\n"
        "    out = TopPLogitsWarper(p)(torch.zeros(flat.shape[0], 1, dtype=torch.long), flat.clone())\n"
        "    return out.reshape(logits.shape)"),
    # the package's attention module with its own cache class and causal mask (absent from the sandbox), with
    # PyTorch's fused attention as the fallback
    "cached_attention": (
        "import torch.nn.functional as F\n"
        "def cached_attention(x, params, n_heads, cache):\n"
        "    b, n_new, d = x.shape\n"
        "    d_k = d // n_heads\n"
        "    heads = lambda t: t.view(b, n_new, n_heads, d_k).transpose(1, 2)\n"
        "    q = heads(x @ params['W_q'].T + params['b_q'])\n"
        "    k = torch.cat([cache['k'], heads(x @ params['W_k'].T + params['b_k'])], dim=2)\n"
        "    v = torch.cat([cache['v'], heads(x @ params['W_v'].T + params['b_v'])], dim=2)\n"
        "    n = k.shape[2]\n"
        "    mask = torch.ones(n_new, n, dtype=torch.bool).tril(n - n_new)\n"
        "    y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)\n"
        "    return y.transpose(1, 2).reshape(b, n_new, d) @ params['W_o'].T + params['b_o'], {'k': k, 'v': v}"),
}
EXPECTED_ZERO = ["test_scaled_dot_product_attention", "test_multi_head_attention", "test_top_p_filter",
                 "test_cached_attention"]
