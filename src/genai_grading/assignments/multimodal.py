"""Exercise 18 (multimodal): the shortcuts each test cell forbids, and package helpers absent from the sandbox.

The hidden tests are in ``solutions/multimodal/multimodal.ipynb``. The references they import
(``contrastive.clip_loss``, ``siglip_loss``, ``zero_shot_predict``, ``class_embeddings``,
``perceiver.latent_attention``) are absent from the sandbox, and so are the package helpers the hidden
tests import for that purpose (``clip_loss_from_embeddings``, ``similarity_logits``, ``normalize``,
``SigLIPHead``, ``losses.cross_entropy_from_logits``, ``losses.softplus``,
``losses.binary_cross_entropy_with_logits``, ``attention.scaled_dot_product_attention``).

``FORBIDDEN`` maps each test cell's ``grade_id`` to the library functions that would do the task:

* task 1 (CLIP loss): PyTorch's cross-entropy and negative log-likelihood in every spelling, and the
  two functions of ``transformers``' CLIP that compute exactly this loss. ``logsumexp`` and
  ``log_softmax`` stay allowed: writing the two cross-entropies with them is the task;
* task 2 (SigLIP loss): ``softplus``, ``logsigmoid`` and the binary cross-entropy with logits, which
  are the stable :math:`-\\log\\sigma` the task asks to write (``torch.logaddexp`` stays allowed: the
  task text offers it);
* task 3 (zero-shot): ``F.normalize`` and ``cosine_similarity`` are allowed; nothing in PyTorch does
  prompt ensembling, so only the package's helpers (absent) would shortcut it;
* task 4 (resampler attention): PyTorch's fused attention and ``MultiheadAttention`` in every spelling.
"""

from __future__ import annotations

CROSS_ENTROPY = (
    "torch.nn.functional.cross_entropy", "torch.nn.CrossEntropyLoss", "torch._C._nn.cross_entropy_loss",
    "torch.nn.functional.nll_loss", "torch.nn.NLLLoss", "torch._C._nn.nll_loss", "torch._C._nn.nll_loss_nd",
    "torch._C._nn.nll_loss2d", "torch.nn.functional.multi_margin_loss",
)
TRANSFORMERS = (
    "transformers.models.clip.modeling_clip.image_text_contrastive_loss",
    "transformers.models.clip.modeling_clip.contrastive_loss",
    "transformers.models.siglip.modeling_siglip.SiglipModel",
)
SOFTPLUS = (
    "torch.nn.functional.softplus", "torch._C._nn.softplus", "torch.nn.Softplus",
    "torch.nn.functional.logsigmoid", "torch._C._nn.log_sigmoid", "torch.nn.LogSigmoid",
    "torch._C._nn.log_sigmoid_forward",
    "torch.nn.functional.binary_cross_entropy_with_logits", "torch.binary_cross_entropy_with_logits",
    "torch.nn.BCEWithLogitsLoss", "torch.nn.functional.soft_margin_loss", "torch.nn.SoftMarginLoss",
    "torch._C._nn.soft_margin_loss",
)
ATTENTION = (
    "torch.nn.functional.scaled_dot_product_attention", "torch._C._nn.scaled_dot_product_attention",
    "torch._scaled_dot_product_attention_math", "torch._fused_sdp_choice",
    "torch._scaled_dot_product_flash_attention_for_cpu", "torch._scaled_dot_product_efficient_attention",
    "torch.nn.MultiheadAttention", "torch.nn.functional.multi_head_attention_forward",
    "torch._native_multi_head_attention", "torch.nn.TransformerDecoderLayer", "torch.nn.TransformerEncoderLayer",
)

FORBIDDEN = {
    "test_clip_loss": [*CROSS_ENTROPY, *TRANSFORMERS],
    "test_siglip_loss": [*SOFTPLUS, *TRANSFORMERS],
    "test_zero_shot_predict": [*TRANSFORMERS],
    "test_latent_attention": [*ATTENTION],
}
