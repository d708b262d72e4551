"""Exercise 16 (transformers): the shortcuts each test cell forbids, and the references its hidden tests share.

The hidden tests are in ``solutions/transformers/transformers.ipynb`` (``check_function`` against the package).
The package functions they import are absent from the sandbox: ``scaled_dot_product_attention`` (so the
package's ``MultiHeadAttention`` cannot run there either: its forward calls it), ``causal_mask`` and
``padding_mask`` (task 4 asks for the causal mask with a cache offset), ``top_p_filter``, ``filter_logits``,
``sample_token``, ``generate`` and ``greedy_decode``. The references of tasks 2 and 4 below wrap the
package's ``MultiHeadAttention`` with the given weights (``torch.func.functional_call``, so that gradients
reach them) and its ``LayerKVCache``.

Forbidden library calls, matched by the runtime guard by their last name component and spelled out for the
scan of the submitted code:

* tasks 1, 2 and 4 (attention): PyTorch's fused attention
  ``torch.nn.functional.scaled_dot_product_attention`` and the kernels behind it (math, flash, memory-efficient,
  cuDNN), ``torch.nn.MultiheadAttention`` and ``F.multi_head_attention_forward``, the transformer layers
  ``torch.nn.Transformer*`` and their fused kernels, and ``transformers``' attention functions and modules
  (GPT-2's ``eager_attention_forward`` and ``GPT2Attention``, the sdpa integration). Matrix products,
  ``torch.softmax``, ``masked_fill``, ``torch.where``, ``view``/``reshape``/``transpose`` and ``torch.cat``
  stay allowed: they are the tools of the tasks (writing a softmax was chapter 6's exercise);
* task 3 (top-p): ``transformers``' ``TopPLogitsWarper`` (and the other warpers, whose ``__call__`` would do
  the filtering from library frames the guard exempts, so only the scan stops them). ``torch.sort``,
  ``torch.softmax``, ``torch.cumsum``, ``gather``/``scatter`` stay allowed: the task needs them. ``torch.topk``
  is allowed too: it does not compute a nucleus.

What this cannot stop: a student who reaches ``transformers``' attention through a name the scan cannot follow
(it runs from library frames, which the guard exempts); the scan flags ``getattr`` on module aliases,
``__import__``, ``importlib`` and ``vars``.
"""

from __future__ import annotations

import torch

_ATTENTION = [
    "torch.nn.functional.scaled_dot_product_attention", "torch._C._nn.scaled_dot_product_attention",
    "torch.ops.aten._scaled_dot_product_attention_math", "torch.ops.aten._scaled_dot_product_flash_attention",
    "torch.ops.aten._scaled_dot_product_efficient_attention", "torch.ops.aten._scaled_dot_product_cudnn_attention",
    "torch.ops.aten._scaled_dot_product_flash_attention_for_cpu", "torch.ops.aten._fused_sdp_choice",
    "torch.ops.aten._scaled_dot_product_attention_math_for_mps", "torch.ops.aten._flash_attention_forward",
    "torch.ops.aten._efficient_attention_forward",
    "torch.nn.MultiheadAttention", "torch.nn.functional.multi_head_attention_forward",
    "torch._native_multi_head_attention", "torch.nn.Transformer", "torch.nn.TransformerEncoder",
    "torch.nn.TransformerEncoderLayer", "torch.nn.TransformerDecoder", "torch.nn.TransformerDecoderLayer",
    "torch._transformer_encoder_layer_fwd", "torch.nn.attention.flex_attention.flex_attention",
    "transformers.models.gpt2.modeling_gpt2.eager_attention_forward",
    "transformers.models.gpt2.modeling_gpt2.GPT2Attention",
    "transformers.integrations.sdpa_attention.sdpa_attention_forward",
    "transformers.modeling_utils.ALL_ATTENTION_FUNCTIONS",
]
_WARPERS = [
    "transformers.TopPLogitsWarper", "transformers.generation.logits_process.TopPLogitsWarper",
    "transformers.generation.TopPLogitsWarper", "transformers.TopKLogitsWarper", "transformers.MinPLogitsWarper",
    "transformers.EpsilonLogitsWarper", "transformers.EtaLogitsWarper", "transformers.TypicalLogitsWarper",
    "transformers.LogitsProcessorList",
]

FORBIDDEN: dict[str, list[str]] = {
    "test_scaled_dot_product_attention": list(_ATTENTION),
    "test_multi_head_attention": list(_ATTENTION),
    "test_top_p_filter": list(_WARPERS),
    "test_cached_attention": list(_ATTENTION),
}

_NAMES = {"W_q": "q_proj.weight", "b_q": "q_proj.bias", "W_k": "k_proj.weight", "b_k": "k_proj.bias",
          "W_v": "v_proj.weight", "b_v": "v_proj.bias", "W_o": "out_proj.weight", "b_o": "out_proj.bias"}


def _module(params: dict[str, torch.Tensor], n_heads: int):
    from genai_foundations.architectures.attention import MultiHeadAttention

    d, d_context = params["W_k"].shape
    return MultiHeadAttention(d, n_heads, kdim=d_context, vdim=d_context, dtype=params["W_q"].dtype)


def reference_multi_head_attention(x: torch.Tensor, context: torch.Tensor | None, params: dict[str, torch.Tensor],
                                   n_heads: int, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Task 2's reference: the package's ``MultiHeadAttention`` with the given weights (differentiable in them)."""
    from torch.func import functional_call

    context = x if context is None else context
    mha = _module(params, n_heads)
    weights = {_NAMES[k]: v for k, v in params.items()}
    return functional_call(mha, weights, (x, context, context), {"mask": mask})


def reference_cached_attention(x: torch.Tensor, params: dict[str, torch.Tensor], n_heads: int,
                               cache: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Task 4's reference: the package's attention with a ``LayerKVCache`` and the offset causal mask."""
    from torch.func import functional_call

    from genai_foundations.architectures.attention import LayerKVCache, causal_mask

    n_past, n_new = cache["k"].shape[2], x.shape[1]
    layer = LayerKVCache(cache["k"].clone(), cache["v"].clone())
    mha = _module(params, n_heads)
    weights = {_NAMES[k]: v for k, v in params.items()}
    out = functional_call(mha, weights, (x,), {"mask": causal_mask(n_new, n_past + n_new, device=x.device),
                                               "cache": layer})
    return out, {"k": layer.keys, "v": layer.values}
