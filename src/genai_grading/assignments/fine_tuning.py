"""Exercise 21 (fine-tuning): the shortcuts each test cell forbids, and package helpers absent from the sandbox.

The hidden tests are in ``solutions/fine-tuning/fine-tuning.ipynb``. The references they import
(``lora_linear``, ``merge_lora``, ``quantize_blockwise``, ``dequantize_blockwise``, ``distillation_loss``
and the helpers imported beside them) are absent from the sandbox. So are the package's classes and
helpers that would do a task in one call: the LoRA layer (its forward is task 1, its ``merge`` task 2),
``apply_lora``, the 4-bit layer (quantises in its constructor, dequantises in ``dequantized_weight``),
``quantize_tensor`` / ``quantize_linears``, and the distillation objective.

Building a ``peft`` LoRA layer around the inputs for task 1 is stopped by the source scan (``peft`` is
one of ``scan.LIBRARIES``, and task 1 forbids its LoRA entry points): the runtime guard alone would let it
through, since peft's internal ``F.linear`` call comes from peft's own frames.
"""

BLOCKED = [
    "genai_foundations.algorithms.lora.LoRALinear",
    "genai_foundations.algorithms.lora.apply_lora",
    "genai_foundations.algorithms.quantization.Linear4bit",
    "genai_foundations.algorithms.quantization.quantize_tensor",
    "genai_foundations.algorithms.quantization.quantize_linears",
    "genai_foundations.algorithms.distillation.distillation_objective",
]

KL = ("torch.nn.functional.kl_div", "torch.kl_div", "torch.nn.KLDivLoss", "torch.nn.functional.cross_entropy",
      "torch.nn.CrossEntropyLoss", "torch.distributions.kl_divergence", "torch.distributions.kl.kl_divergence",
      "torch.nn.functional.binary_cross_entropy")

FORBIDDEN = {
    "test_lora_forward": ["torch.nn.functional.linear", "torch.addmm", "torch.nn.Linear", "peft.get_peft_model",
                          "peft.LoraConfig", "peft.inject_adapter_in_model", "peft.tuners.lora.Linear",
                          "peft.tuners.lora.LoraModel"],
    "test_merge_lora": [],
    "test_quantize_blockwise": [],
    "test_dequantize_blockwise": [],
    "test_distillation_loss": list(KL),
}
