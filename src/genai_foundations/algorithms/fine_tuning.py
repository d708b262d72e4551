"""The fine-tuning chapter's experiment: a GPT pretrained without one kind of text, then adapted to it.

The held-out kind of text is the **interactive examples** of the Python help
topics: the lines that start (after their indentation) with the prompt
``>>>`` or the continuation ``...``. They occur in both parts of the book's
split (:func:`~genai_foundations.data.python_docs.python_docs_split`), so:

1. *pretraining text*: the training part (first 90% of the corpus) with every
   example line removed (the line and its newline);
2. *adaptation text*: the example lines of the training part, each stripped of
   its leading indentation, joined by newlines;
3. *adaptation validation text*: the example lines of the validation part
   (last 10%), built the same way.

For the frozen Python 3.11.7 corpus (:func:`held_out_split` reports the counts):
the training part's 418,542 characters become 408,828 of pretraining text
once 9,714 characters of example lines (289 lines, newlines included) are
removed; the adaptation text has 8,661 characters and the adaptation
validation text 1,793 (74 lines). Every character keeps the id it has in the
book's tokenizer (vocabulary from the whole training part).

* :func:`held_out_split`: the three texts as id tensors, with their character counts;
* :func:`pretrained_gpt_checkpoint` / :func:`pretrained_gpt_metrics`: the shared
  checkpoint ``gpt-docs-no-examples`` (chapter 16's GPT trained on the pretraining text);
* :func:`prepare_method`: a copy of the pretrained GPT set up for one adaptation method
  (``"full"``, ``"lora"``, ``"prompt"``, ``"qlora"``);
* :func:`adapt_and_score`: train it on the adaptation text and score it on the validation examples.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch
from torch import nn

from genai_foundations.algorithms.char_lm import CharGPT, train_char_model, validation_nats
from genai_foundations.architectures.gpt import GPT, GPTConfig

EXAMPLE_PREFIXES = (">>>", "...")
#: Chapter 16's GPT on the book's split (GPT-2 layout).
GPT_SHAPE = dict(n_positions=128, d_model=64, n_heads=4, n_layers=2, d_ff=256)
PRETRAINING = dict(steps=1500, context=128, batch_size=32, lr=3e-3, seed=0)
CHECKPOINT_NAME = "gpt-docs-no-examples"
METHODS = ("full", "lora", "prompt", "qlora")


def is_example_line(line: str) -> bool:
    """True for a line of an interactive example: ``>>>`` or ``...`` after the indentation."""
    return line.lstrip().startswith(EXAMPLE_PREFIXES)


def split_examples(text: str) -> tuple[str, str]:
    """``(text without its example lines, the example lines stripped of indentation and joined by newlines)``."""
    kept, examples = [], []
    for line in text.split("\n"):
        (examples if is_example_line(line) else kept).append(line)
    return "\n".join(kept), "\n".join(line.lstrip() for line in examples)


@dataclass(frozen=True)
class HeldOutSplit:
    """The chapter's texts (as ids of the book's tokenizer) and their sizes in characters."""

    pretrain: torch.Tensor
    adapt: torch.Tensor
    adapt_val: torch.Tensor
    removed_chars: int
    vocab_size: int

    def counts(self) -> dict[str, int]:
        return {"pretraining": len(self.pretrain), "removed from pretraining": self.removed_chars,
                "adaptation": len(self.adapt), "adaptation validation": len(self.adapt_val)}


@lru_cache(maxsize=1)
def held_out_split() -> HeldOutSplit:
    """The pretraining, adaptation and adaptation-validation texts of the module docstring."""
    from genai_foundations.data.python_docs import python_docs_split

    split = python_docs_split()
    pretrain_text, adapt_text = split_examples(split.train_text)
    _, val_text = split_examples(split.val_text)
    enc = split.tokenizer.encode
    return HeldOutSplit(enc(pretrain_text), enc(adapt_text), enc(val_text),
                        len(split.train_text) - len(pretrain_text), split.vocab_size)


def gpt_config(vocab_size: int) -> GPTConfig:
    return GPTConfig.gpt2(vocab_size=vocab_size, **GPT_SHAPE)


def pretrain_gpt(steps: int = PRETRAINING["steps"], seed: int = PRETRAINING["seed"],
                 device: torch.device | str = "cpu") -> GPT:
    """Chapter 16's GPT trained on the pretraining text (no example lines), as chapter 16 trains it."""
    data = held_out_split()
    torch.manual_seed(seed)
    model = CharGPT(data.vocab_size, **GPT_SHAPE).to(device)
    p = PRETRAINING
    train_char_model(model, data.pretrain, steps=steps, context=p["context"], batch_size=p["batch_size"],
                     lr=p["lr"], seed=seed, desc="pretraining without examples")
    return model.eval()


def pretrained_gpt_checkpoint() -> tuple[nn.Module, dict[str, Any]]:
    """Train the checkpoint ``gpt-docs-no-examples`` (deterministic on the CPU with one thread)."""
    model = pretrain_gpt()
    config = {"model_kwargs": {"vocab_size": model.config.vocab_size, **GPT_SHAPE},
              "seed": PRETRAINING["seed"],
              "training": {"function": f"{__name__}.pretrain_gpt", "kwargs": dict(PRETRAINING), "device": "cpu",
                           "threads": 1}}
    return model, config


@torch.no_grad()
def pretrained_gpt_metrics(model: nn.Module) -> dict[str, float]:
    """Validation nats/char of the book's validation part and of its example lines (window 128)."""
    from genai_foundations.data.python_docs import python_docs_split

    window = PRETRAINING["context"]
    return {"val_nats": validation_nats(model, python_docs_split().val, window),
            "examples_val_nats": validation_nats(model, held_out_split().adapt_val, window)}


def prepare_method(base: GPT, method: str, *, r: int = 4, alpha: float | None = None, n_prompt: int = 16,
                   block_size: int = 64, seed: int = 0) -> nn.Module:
    """A deep copy of ``base`` set up for one adaptation method (``base`` itself is not touched).

    * ``"full"``: every parameter trains;
    * ``"lora"``: LoRA of rank ``r`` (``alpha`` defaults to r, a scale of 1) on every linear layer of the
      blocks (queries, keys, values, output projections, both feed-forward layers); the rest frozen;
    * ``"prompt"``: a soft prompt of ``n_prompt`` vectors before a frozen model;
    * ``"qlora"``: those linear layers quantised to NF4 (blocks of ``block_size``) and frozen, with LoRA of rank r on top.
    """
    from genai_foundations.algorithms.lora import apply_lora
    from genai_foundations.algorithms.prompt_tuning import PromptTunedGPT
    from genai_foundations.algorithms.quantization import quantize_linears

    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
    model = copy.deepcopy(base).train()
    if method == "full":
        for p in model.parameters():
            p.requires_grad_(True)
        return model
    if method == "prompt":
        return PromptTunedGPT(model, n_prompt, seed=seed)
    in_blocks = ("attn.q_proj", "attn.k_proj", "attn.v_proj", "attn.out_proj", "ffn.up", "ffn.down")
    if method == "qlora":
        quantize_linears(model, block_size=block_size, target=in_blocks)
        for p in model.parameters():
            p.requires_grad_(False)
        targets = [n for n, m in model.named_modules() if n.endswith(in_blocks)]
        _wrap_quantized(model, targets, r, alpha, seed)
        return model
    apply_lora(model, r, alpha, target=in_blocks, seed=seed)
    return model


def _wrap_quantized(model: nn.Module, names: list[str], r: int, alpha: float | None, seed: int) -> None:
    from genai_foundations.algorithms.lora import LoRALinear, _set_submodule

    generator = torch.Generator().manual_seed(seed)
    for name in names:
        _set_submodule(model, name, LoRALinear(model.get_submodule(name), r, alpha, generator=generator))


@dataclass
class AdaptationResult:
    """One row of the chapter's table: what trained, the weights' bytes, the losses (nats/char) and the training's wall time."""

    method: str
    trainable: int
    weight_bytes: int
    val_nats: float
    seconds: float
    train_loss: float = float("nan")   # mean training loss of the last 50 steps


def adapt_and_score(model: nn.Module, method: str, *, steps: int, lr: float, context: int = 112,
                    batch_size: int = 16, seed: int = 0) -> AdaptationResult:
    """Train ``model`` (from :func:`prepare_method`) on the adaptation text and score the validation examples.

    Windows of ``context`` characters both ways (112 = 128 minus a prompt of
    16, so that every method sees the same windows); wall time of the training only.
    """
    from genai_foundations.algorithms.lora import trainable_parameters, weight_bytes

    data = held_out_split()
    trainable = trainable_parameters(model)
    start = time.perf_counter()
    run = train_char_model(model, data.adapt, steps=steps, context=context, batch_size=batch_size, lr=lr, seed=seed,
                           desc=f"adapting: {method}")
    seconds = time.perf_counter() - start
    return AdaptationResult(method, trainable, weight_bytes(model), validation_nats(model.eval(), data.adapt_val, context),
                            seconds, run.history.final(min(50, steps)))


#: The methods of the chapter's table: (row name, method, keyword arguments of prepare_method, learning rate).
ADAPTATION_METHODS = (
    ("full fine-tuning", "full", {}, 1e-3),
    ("LoRA, r = 1", "lora", {"r": 1}, 5e-3),
    ("LoRA, r = 4", "lora", {"r": 4}, 5e-3),
    ("LoRA, r = 16", "lora", {"r": 16}, 5e-3),
    ("prompt tuning, k = 16", "prompt", {"n_prompt": 16}, 3e-2),
    ("QLoRA: NF4 base + LoRA, r = 4", "qlora", {"r": 4}, 5e-3),
)
ADAPTATION = dict(steps=300, batch_size=16, context=112)


def adaptation_table(base: GPT, *, steps: int = ADAPTATION["steps"], seed: int = 0,
                     device: torch.device | str = "cpu") -> dict[str, AdaptationResult]:
    """Every method of :data:`ADAPTATION_METHODS` on the same step budget, windows and seed: one result per row."""
    results = {}
    for name, method, kwargs, lr in ADAPTATION_METHODS:
        torch.manual_seed(seed)
        model = prepare_method(base.to(device), method, seed=seed, **kwargs)
        results[name] = adapt_and_score(model, method, steps=steps, lr=lr, context=ADAPTATION["context"],
                                        batch_size=ADAPTATION["batch_size"], seed=seed)
        results[name].method = name
    return results


#: The distillation student: chapter 16's GPT at half the width (d = 32, 2 heads, 2 blocks).
STUDENT_SHAPE = dict(n_positions=128, d_model=32, n_heads=2, n_layers=2, d_ff=128)
DISTILLATION = dict(steps=500, context=128, batch_size=32, lr=3e-3, temperature=2.0, soft_weight=0.5)


@dataclass
class DistillationResult:
    name: str
    parameters: int
    val_nats: float
    seconds: float


def distillation_table(teacher: GPT, *, steps: int = DISTILLATION["steps"], seed: int = 0,
                       device: torch.device | str = "cpu",
                       teacher_val_nats: float | None = None) -> dict[str, DistillationResult]:
    """Teacher, student from scratch and distilled student (same initialisation, windows and steps), on the book's validation part.

    Both students train on the teacher's pretraining text (the training part without the examples)
    with :data:`DISTILLATION`'s settings; the distilled one minimises (KD-MIX) instead of the cross-entropy.
    ``teacher_val_nats``: the teacher's validation loss if already measured (window 128), to skip measuring it again.
    """
    from genai_foundations.algorithms.distillation import distill_char_model
    from genai_foundations.algorithms.lora import trainable_parameters
    from genai_foundations.data.python_docs import python_docs_split

    data = held_out_split()
    val = python_docs_split().val
    d = DISTILLATION
    teacher = teacher.to(device).eval()
    out = {"teacher": DistillationResult("teacher", sum(p.numel() for p in teacher.parameters()),
                                         teacher_val_nats if teacher_val_nats is not None
                                         else validation_nats(teacher, val, d["context"]), float("nan"))}
    torch.manual_seed(seed)
    init = CharGPT(data.vocab_size, **STUDENT_SHAPE).to(device)
    for name in ("student from scratch", "distilled student"):
        student = copy.deepcopy(init)
        kw = dict(steps=steps, context=d["context"], batch_size=d["batch_size"], lr=d["lr"], seed=seed)
        if name == "distilled student":
            run = distill_char_model(student, teacher, data.pretrain, temperature=d["temperature"],
                                     soft_weight=d["soft_weight"], **kw)
        else:
            run = train_char_model(student, data.pretrain, desc=name, **kw)
        out[name] = DistillationResult(name, trainable_parameters(student),
                                       validation_nats(student.eval(), val, d["context"]), run.seconds)
    return out
