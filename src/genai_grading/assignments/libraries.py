"""Exercise 27 (libraries): the library shortcuts each graded test cell forbids.

The hidden tests stay in ``solutions/libraries/libraries.ipynb`` (written with ``check_function``, plus a
comparison with the library itself). They import the package's references ``mha_from_torch_weights``,
``lstm_from_torch_weights`` and ``gpt2_attention_to_linear`` (``genai_foundations.library_equivalence``) and
the helpers that would do a task in one call (``scaled_dot_product_attention`` and ``causal_mask`` of
``architectures.attention``; ``lstm_cell`` and ``unroll`` of ``architectures.recurrent``; ``gpt2_state_dict``
and ``load_gpt2_state_dict`` of ``architectures.gpt``; ``reverse_step`` and ``predict_x0`` of
``algorithms.ddpm``, and the reference ``ddim_step_diffusers_index``), so all of these are absent from the
student's sandbox.

This module names, per test cell, the library entry points that would do the task: PyTorch's attention
(the module, its functional form and the fused kernels behind it) for task 1; PyTorch's recurrent modules and
kernels for task 2; the ``diffusers`` schedulers (whose ``step`` does task 4) for task 4. The runtime guard
matches the last component of each name when the student's own code calls it; the scan of the submitted
code catches the spellings, module classes included.

What stays allowed: ``torch.softmax``, ``torch.sigmoid``, ``torch.tanh``, matrix products, ``chunk``,
``split``, ``reshape``, ``transpose``, ``masked_fill``, indexing. Task 3 is a layout task: nothing in PyTorch
does it in one call, so its list only names the Hugging Face classes that hold the layout.
"""

from __future__ import annotations

ATTENTION_LIBRARY = (
    "torch.nn.MultiheadAttention", "torch.nn.functional.multi_head_attention_forward",
    "torch._native_multi_head_attention", "torch.nn.functional.scaled_dot_product_attention",
    "torch._scaled_dot_product_attention_math", "torch._scaled_dot_product_flash_attention",
    "torch._scaled_dot_product_efficient_attention", "torch._scaled_dot_product_cudnn_attention",
    "torch._scaled_dot_product_flash_attention_for_cpu", "torch._transformer_encoder_layer_fwd",
    "torch.nn.TransformerEncoderLayer", "torch.nn.TransformerDecoderLayer", "torch.nn.Transformer",
)

RECURRENT_LIBRARY = (
    "torch.lstm_cell", "torch.lstm", "torch.quantized_lstm_cell", "torch.quantized_lstm", "torch.mkldnn_rnn_layer",
    "torch._thnn_fused_lstm_cell", "torch.nn.LSTMCell", "torch.nn.LSTM", "torch.nn.RNNBase",
)

DIFFUSERS_SCHEDULERS = (
    "diffusers.DDIMScheduler", "diffusers.DDPMScheduler", "diffusers.schedulers.DDIMScheduler",
    "diffusers.schedulers.DDPMScheduler", "diffusers.schedulers.scheduling_ddim.DDIMScheduler", "Tensor.step",
)

FORBIDDEN = {
    "test_mha_from_torch_weights": list(ATTENTION_LIBRARY),
    "test_lstm_from_torch_weights": list(RECURRENT_LIBRARY),
    "test_gpt2_attention_to_linear": ["transformers.GPT2LMHeadModel", "transformers.GPT2Model",
                                      "transformers.pytorch_utils.Conv1D"],
    "test_ddim_step_diffusers_index": list(DIFFUSERS_SCHEDULERS),
}
