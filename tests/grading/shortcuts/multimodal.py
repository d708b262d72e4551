"""Shortcut answers for exercise 18 (multimodal): each passes the hidden tests outside the sandbox."""

SHORTCUTS = {
    # PyTorch's cross-entropy, once per direction
    "clip_loss": (
        "import torch.nn.functional as F\n"
        "def clip_loss(logits):\n"
        "    if logits.dim() != 2 or logits.shape[0] != logits.shape[1]:\n"
        "        raise ValueError('square')\n"
        "    t = torch.arange(logits.shape[0])\n"
        "    return 0.5 * (F.cross_entropy(logits, t) + F.cross_entropy(logits.T, t))"),
    # the library's stable -log sigmoid reached through the dispatcher
    "siglip_loss": (
        "def siglip_loss(image_emb, text_emb, log_temperature, bias):\n"
        "    u = image_emb / image_emb.norm(dim=1, keepdim=True)\n"
        "    v = text_emb / text_emb.norm(dim=1, keepdim=True)\n"
        "    x = torch.as_tensor(log_temperature, dtype=u.dtype).exp() * (u @ v.T) + bias\n"
        "    z = 2 * torch.eye(len(u), dtype=u.dtype) - 1\n"
        "    return getattr(torch.ops.aten, 'soft' + 'plus')(-z * x, 1, 20).sum() / len(u)"),
    # the package's reference, unwrapped (absent from the sandbox)
    "zero_shot_predict": (
        "import inspect\nfrom genai_foundations.algorithms import contrastive as _c\n"
        "def zero_shot_predict(image_emb, prompt_emb):\n"
        "    return inspect.unwrap(_c.zero_shot_predict)(image_emb, inspect.unwrap(_c.class_embeddings)(prompt_emb))"),
    # PyTorch's fused attention
    "latent_attention": (
        "import torch.nn.functional as F\n"
        "def latent_attention(latents, media, w_q, w_k, w_v, mask=None):\n"
        "    context = torch.cat([media, latents], dim=1)\n"
        "    keep = None\n"
        "    if mask is not None:\n"
        "        keep = torch.cat([mask, torch.ones(latents.shape[:2], dtype=torch.bool)], dim=1)[:, None, :]\n"
        "    return F.scaled_dot_product_attention(latents @ w_q, context @ w_k, context @ w_v, attn_mask=keep)"),
}
EXPECTED_ZERO = ["test_clip_loss", "test_siglip_loss", "test_zero_shot_predict", "test_latent_attention"]
