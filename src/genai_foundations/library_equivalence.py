"""The course's implementations next to the libraries a reader uses afterwards (chapter 27, libraries).

Each ``compare_*`` function builds the course's piece and the library's piece offline (from configs or
constructors; nothing is downloaded), gives both the same weights and the same inputs, runs both, and
returns the maximum absolute difference :math:`\\max_i |y^{\\text{ours}}_i - y^{\\text{lib}}_i|` of the
outputs. The porting itself lives with each model (``MultiHeadAttention.load_from_torch``,
``Recurrent.from_torch``, ``to_gpt2``, ``load_torchvision_vit``, ...): this module only calls it.

:data:`FAMILIES` lists every comparison with the unit test that keeps it true;
:func:`equivalence_table` runs them all.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models are built from configs; nothing may reach a model hub

import torch
from torch import nn

DT = torch.float64


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    if a.shape != b.shape:
        raise ValueError(f"outputs differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
    return float((a.double() - b.double()).abs().max())


def _perturb(module: nn.Module, scale: float) -> None:
    """Add noise to every parameter, so that biases and LayerNorms a library starts at 0 or 1 count too."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn_like(p))


def _device(device: str | torch.device | None) -> torch.device:
    return torch.device(device) if device is not None else torch.device("cpu")


# --- porting functions on raw tensors (the exercise's tasks) -----------------------------------------------

def mha_from_torch_weights(x: torch.Tensor, in_proj_weight: torch.Tensor, in_proj_bias: torch.Tensor,
                           out_proj_weight: torch.Tensor, out_proj_bias: torch.Tensor, n_heads: int,
                           causal: bool = False) -> torch.Tensor:
    """Self-attention of ``x`` (B, n, d) computed with a ``torch.nn.MultiheadAttention``'s tensors.

    ``in_proj_weight`` (3d, d) stacks the rows of :math:`W_Q`, :math:`W_K`, :math:`W_V` (``nn.Linear`` layout:
    :math:`q = x W_Q^\\top + b_Q`); the heads are consecutive slices of d/h columns of q, k, v;
    :math:`Y = \\mathrm{Concat}(Y_1..Y_h) W_O^\\top + b_O` with
    :math:`Y_i = \\mathrm{softmax}(q_i k_i^\\top/\\sqrt{d/h}) v_i`.
    With ``causal`` position i sees positions up to i only.
    """
    from .architectures.attention import MultiHeadAttention, causal_mask

    if x.dim() != 3:
        raise ValueError(f"expected x of shape (B, n, d), got {tuple(x.shape)}")
    d = x.shape[-1]
    if in_proj_weight.shape != (3 * d, d) or out_proj_weight.shape != (d, d):
        raise ValueError(f"expected in_proj_weight (3d, d) = {(3 * d, d)} and out_proj_weight (d, d), got "
                         f"{tuple(in_proj_weight.shape)} and {tuple(out_proj_weight.shape)}")
    module = MultiHeadAttention(d, n_heads, dtype=x.dtype, device="meta").eval()
    wq, wk, wv = in_proj_weight.chunk(3)
    bq, bk, bv = in_proj_bias.chunk(3)
    weights = {"q_proj.weight": wq, "q_proj.bias": bq, "k_proj.weight": wk, "k_proj.bias": bk,
               "v_proj.weight": wv, "v_proj.bias": bv, "out_proj.weight": out_proj_weight,
               "out_proj.bias": out_proj_bias}
    mask = causal_mask(x.shape[1]).to(x.device) if causal else None
    return torch.func.functional_call(module, weights, (x,), {"mask": mask})   # differentiable in every tensor


def lstm_from_torch_weights(x: torch.Tensor, weight_ih: torch.Tensor, weight_hh: torch.Tensor, bias_ih: torch.Tensor,
                            bias_hh: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A one-layer ``torch.nn.LSTM(batch_first=True)`` run from its tensors, starting from zero states.

    ``weight_ih`` (4H, I) and ``weight_hh`` (4H, H) stack the gates in PyTorch's order (input, forget,
    candidate, output); returns the hidden states (B, T, H) and the final :math:`h_T`, :math:`c_T` (B, H),
    equations (LSTM) of chapter 15.
    """
    from .architectures.recurrent import lstm_cell, unroll

    if x.dim() != 3:
        raise ValueError(f"expected x of shape (B, T, I), got {tuple(x.shape)}")
    H = weight_hh.shape[1]
    h0 = x.new_zeros(x.shape[0], H)
    outputs, (h, c) = unroll(lambda xt, s: lstm_cell(xt, s[0], s[1], weight_ih, weight_hh, bias_ih, bias_hh),
                             x, (h0, h0.clone()))
    return outputs, h, c


def gpt2_attention_to_linear(c_attn_weight: torch.Tensor, c_attn_bias: torch.Tensor, c_proj_weight: torch.Tensor,
                             c_proj_bias: torch.Tensor) -> dict[str, torch.Tensor]:
    """GPT-2's attention tensors (``Conv1D``: weight stored (in, out)) in ``nn.Linear`` layout (out, in).

    ``c_attn_weight`` (d, 3d) holds :math:`W_Q^\\top, W_K^\\top, W_V^\\top` side by side; returns the dict
    ``q_proj.weight`` ... ``out_proj.bias`` of ``architectures.attention.MultiHeadAttention``.
    """
    d = c_attn_weight.shape[0]
    if c_attn_weight.shape != (d, 3 * d) or c_attn_bias.shape != (3 * d,) or c_proj_weight.shape != (d, d):
        raise ValueError("expected c_attn_weight (d, 3d), c_attn_bias (3d,), c_proj_weight (d, d), got "
                         f"{tuple(c_attn_weight.shape)}, {tuple(c_attn_bias.shape)}, {tuple(c_proj_weight.shape)}")
    wq, wk, wv = (w.T.contiguous() for w in c_attn_weight.split(d, dim=1))
    bq, bk, bv = (b.clone() for b in c_attn_bias.split(d))
    return {"q_proj.weight": wq, "q_proj.bias": bq, "k_proj.weight": wk, "k_proj.bias": bk,
            "v_proj.weight": wv, "v_proj.bias": bv, "out_proj.weight": c_proj_weight.T.contiguous(),
            "out_proj.bias": c_proj_bias.clone()}


def ddim_step_diffusers_index(sample: torch.Tensor, eps: torch.Tensor, k: int, k_prev: int,
                              alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """One deterministic DDIM step (eta = 0) in ``diffusers``' step indexing.

    ``alphas_cumprod[k]`` (k = 0..T-1) is the book's :math:`\\bar\\alpha_{k+1}`; ``k_prev = -1`` means the
    clean data, :math:`\\bar\\alpha_0 = 1` (``DDIMScheduler(set_alpha_to_one=True)``). With
    :math:`a = \\bar\\alpha_{k+1}`, :math:`a' = \\bar\\alpha_{k'+1}`:
    :math:`\\hat x_0 = (x - \\sqrt{1-a}\\,\\varepsilon)/\\sqrt a` and
    :math:`x' = \\sqrt{a'}\\,\\hat x_0 + \\sqrt{1-a'}\\,\\varepsilon`: the book's (REV) with
    :math:`c_t = 0`, from step k + 1 to step k' + 1 (``algorithms.ddpm.reverse_step``).
    """
    T = alphas_cumprod.shape[0]
    if not (0 <= k < T and -1 <= k_prev < k):
        raise ValueError(f"expected 0 <= k < {T} and -1 <= k_prev < k, got k = {k}, k_prev = {k_prev}")
    if eps.shape != sample.shape:
        raise ValueError(f"eps must have the shape of sample {tuple(sample.shape)}, got {tuple(eps.shape)}")
    a = alphas_cumprod[k].to(sample.dtype)
    a_prev = alphas_cumprod[k_prev].to(sample.dtype) if k_prev >= 0 else torch.ones((), dtype=sample.dtype)
    x0_hat = (sample - (1 - a).sqrt() * eps) / a.sqrt()
    return a_prev.sqrt() * x0_hat + (1 - a_prev).sqrt() * eps


# --- torch.nn ------------------------------------------------------------------------------------------------

def compare_multihead_attention(seed: int = 0, device: str | torch.device | None = None) -> float:
    """``architectures.attention.MultiHeadAttention`` vs ``torch.nn.MultiheadAttention`` (causal self-attention).

    The library stacks :math:`W_Q, W_K, W_V` into one ``in_proj_weight`` of shape (3d, d);
    ``load_from_torch`` splits it into the three projections.
    """
    from .architectures.attention import MultiHeadAttention, causal_mask

    dev = _device(device)
    torch.manual_seed(seed)
    theirs = nn.MultiheadAttention(16, 4, batch_first=True, dtype=DT, device=dev).eval()
    _perturb(theirs, 0.3)
    ours = MultiHeadAttention(16, 4, dtype=DT).to(dev).load_from_torch(theirs).eval()
    x = torch.randn(3, 7, 16, dtype=DT, device=dev)
    mask = causal_mask(7).to(dev)
    with torch.no_grad():
        y_lib, _ = theirs(x, x, x, attn_mask=~mask)   # torch's boolean mask marks what is hidden
        return _max_diff(ours(x, mask=mask), y_lib)


def compare_lstm(seed: int = 0, device: str | torch.device | None = None) -> float:
    """``architectures.recurrent.Recurrent`` (written-out LSTM cells) vs ``torch.nn.LSTM``, outputs and final states."""
    from .architectures.recurrent import Recurrent

    dev = _device(device)
    torch.manual_seed(seed)
    theirs = nn.LSTM(5, 8, num_layers=2, batch_first=True).to(dev, DT)
    ours = Recurrent.from_torch(theirs).to(dev)
    x = torch.randn(3, 11, 5, dtype=DT, device=dev)
    with torch.no_grad():
        out_ours, (h_ours, c_ours) = ours(x)
        out_lib, (h_lib, c_lib) = theirs(x)
    return max(_max_diff(out_ours, out_lib), _max_diff(h_ours, h_lib), _max_diff(c_ours, c_lib))


def compare_conv2d(seed: int = 0, device: str | torch.device | None = None) -> float:
    """``architectures.convolution.conv2d`` (unfold, one matrix product) vs ``torch.nn.Conv2d``, stride 2."""
    from .architectures.convolution import conv2d

    dev = _device(device)
    torch.manual_seed(seed)
    theirs = nn.Conv2d(3, 6, 3, stride=2, padding=1).to(dev, DT)
    x = torch.randn(2, 3, 9, 9, dtype=DT, device=dev)
    with torch.no_grad():
        return _max_diff(conv2d(x, theirs.weight, theirs.bias, stride=2, padding=1), theirs(x))


def compare_batch_norm(seed: int = 0, device: str | torch.device | None = None) -> float:
    """``architectures.convolution.BatchNorm2d`` vs ``torch.nn.BatchNorm2d``: three training steps, then evaluation.

    The difference covers the outputs of every step and the running mean and variance.
    """
    from .architectures.convolution import BatchNorm2d

    dev = _device(device)
    torch.manual_seed(seed)
    ours, theirs = BatchNorm2d(4).to(dev, DT), nn.BatchNorm2d(4).to(dev, DT)
    _perturb(theirs, 0.5)
    ours.load_state_dict(theirs.state_dict())
    diffs = []
    with torch.no_grad():
        for _ in range(3):
            x = 2 * torch.randn(5, 4, 6, 6, dtype=DT, device=dev) + 1
            diffs.append(_max_diff(ours(x), theirs(x)))
        diffs += [_max_diff(ours.running_mean, theirs.running_mean), _max_diff(ours.running_var, theirs.running_var)]
        ours.eval(), theirs.eval()
        x = torch.randn(5, 4, 6, 6, dtype=DT, device=dev)
        diffs.append(_max_diff(ours(x), theirs(x)))
    return max(diffs)


# --- diffusers ----------------------------------------------------------------------------------------------

def compare_ddpm_step(seed: int = 0, device: str | torch.device | None = None) -> float:
    """``algorithms.ddpm.ddpm_step`` vs ``diffusers.DDPMScheduler.step`` (cosine schedule, posterior variance).

    diffusers counts steps from 0: its index k is our step t = k + 1. Both draw the same noise. diffusers
    computes in float32, so the difference is float32 round-off. Steps k in {990, 600, 10, 0}.
    """
    from diffusers import DDPMScheduler

    from .algorithms import ddpm
    from .algorithms.ddpm import NoiseSchedule

    theirs = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", clip_sample=False,
                           variance_type="fixed_small")
    schedule = NoiseSchedule.cosine(1000)
    g = torch.Generator().manual_seed(seed)
    x, eps = torch.randn(4, 1, 8, 8, generator=g), torch.randn(4, 1, 8, 8, generator=g)
    diffs = []
    for k in (990, 600, 10, 0):
        expected = theirs.step(eps, k, x, generator=torch.Generator().manual_seed(seed + k)).prev_sample
        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed + k))
        diffs.append(_max_diff(ddpm.ddpm_step(x, k + 1, eps, schedule, variance="beta_tilde", noise=noise), expected))
    return max(diffs)


def compare_ddim_step(seed: int = 0, device: str | torch.device | None = None) -> float:
    """``algorithms.ddpm.reverse_step`` with eta = 0 vs ``diffusers.DDIMScheduler.step`` on a 20-step subsequence."""
    from diffusers import DDIMScheduler

    from .algorithms import ddpm
    from .algorithms.ddpm import NoiseSchedule

    T, steps = 1000, 20
    theirs = DDIMScheduler(num_train_timesteps=T, beta_schedule="squaredcos_cap_v2", clip_sample=False,
                           set_alpha_to_one=True)
    theirs.set_timesteps(steps)
    schedule = NoiseSchedule.cosine(T)
    g = torch.Generator().manual_seed(seed)
    x, eps = torch.randn(4, 2, 5, generator=g), torch.randn(4, 2, 5, generator=g)
    stride = T // steps
    diffs = []
    for k in (950, 500, 0):
        expected = theirs.step(eps, k, x, eta=0.0).prev_sample
        ours = ddpm.reverse_step(x, k + 1, max(k - stride, -1) + 1, eps, schedule, eta=0.0)
        diffs.append(_max_diff(ours, expected))
    return max(diffs)


# --- transformers ---------------------------------------------------------------------------------------------

def compare_gpt2(seed: int = 0, device: str | torch.device | None = None) -> float:
    """``architectures.gpt.GPT`` vs ``transformers.GPT2LMHeadModel`` built from a ``GPT2Config`` (logits).

    ``to_gpt2`` copies the weights, transposing every linear map into GPT-2's ``Conv1D`` (in, out) layout.
    """
    from .architectures.gpt import GPT, GPTConfig, to_gpt2

    dev = _device(device)
    torch.manual_seed(seed)
    ours = GPT(GPTConfig.gpt2(vocab_size=37, n_positions=24, d_model=16, n_heads=4, n_layers=2, d_ff=24), dtype=DT)
    _perturb(ours, 0.3)
    ours = ours.to(dev).eval()
    theirs = to_gpt2(ours).to(dev)
    ids = torch.randint(0, 37, (3, 20), generator=torch.Generator().manual_seed(seed + 1)).to(dev)
    with torch.no_grad():
        return _max_diff(ours(ids), theirs(ids).logits)


def compare_clip_loss(seed: int = 0, device: str | torch.device | None = None) -> float:
    """``algorithms.contrastive.clip_loss`` vs ``transformers``' ``image_text_contrastive_loss`` (loss, gradient)."""
    from transformers.models.clip.modeling_clip import image_text_contrastive_loss

    from .algorithms.contrastive import clip_loss, similarity_logits

    dev = _device(device)
    g = torch.Generator().manual_seed(seed)
    u, v = torch.randn(8, 5, generator=g, dtype=DT), torch.randn(8, 5, generator=g, dtype=DT)
    logits = similarity_logits(u, v, 1 / 0.07).to(dev).requires_grad_(True)
    ours, theirs = clip_loss(logits), image_text_contrastive_loss(logits.T)
    (g_ours,) = torch.autograd.grad(ours, logits)
    (g_lib,) = torch.autograd.grad(theirs, logits)
    return max(_max_diff(ours.detach(), theirs.detach()), _max_diff(g_ours, g_lib))


def compare_logits_processors(seed: int = 0, device: str | torch.device | None = None) -> float:
    """``algorithms.decoding.filter_logits`` (temperature, top-k, top-p) vs ``transformers``' logits warpers.

    Filtered-out entries are :math:`-\\infty` in both; the difference is taken over the kept entries, and
    a disagreement on which entries are kept counts as an infinite difference.
    """
    from transformers.generation.logits_process import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    from .algorithms.decoding import filter_logits

    dev = _device(device)
    g = torch.Generator().manual_seed(seed)
    z = (2.0 * torch.randn(4, 40, generator=g, dtype=DT)).to(dev)
    ids = torch.zeros(4, 1, dtype=torch.long, device=dev)
    worst = 0.0
    for t, k, p in ((0.7, 10, 0.8), (1.0, 40, 0.5), (2.0, 3, 0.95)):
        ours = filter_logits(z, t, k, p)
        theirs = TopPLogitsWarper(p)(ids, TopKLogitsWarper(k)(ids, TemperatureLogitsWarper(t)(ids, z.clone())))
        kept = torch.isfinite(ours)
        if not torch.equal(kept, torch.isfinite(theirs)):
            return float("inf")
        worst = max(worst, _max_diff(ours[kept], theirs[kept]))
    return worst


# --- peft -----------------------------------------------------------------------------------------------------

class _TwoLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(6, 5)
        self.out = nn.Linear(5, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.lin(x)))


def compare_lora(seed: int = 0, device: str | torch.device | None = None) -> float:
    """``algorithms.lora.apply_lora`` vs ``peft.get_peft_model`` with ``LoraConfig(r=4, lora_alpha=8)``.

    The same base weights and the same non-zero A and B in both, so the update
    :math:`\\Delta W = (\\alpha/r) B A` is active; the difference covers outputs and :math:`\\Delta W`.
    """
    from peft import LoraConfig, get_peft_model

    from .algorithms.lora import apply_lora

    dev = _device(device)
    r, alpha = 4, 8.0
    torch.manual_seed(seed)
    ours, theirs = _TwoLayer().to(dev, DT), _TwoLayer().to(dev, DT)
    theirs.load_state_dict(ours.state_dict())
    apply_lora(ours, r, alpha, target=["lin"])
    theirs = get_peft_model(theirs, LoraConfig(r=r, lora_alpha=alpha, target_modules=["lin"], lora_dropout=0.0))
    peft_lin = theirs.base_model.model.lin
    g = torch.Generator().manual_seed(seed + 1)
    A, B = torch.randn(r, 6, generator=g, dtype=DT), torch.randn(5, r, generator=g, dtype=DT)
    with torch.no_grad():
        ours.lin.lora_A.copy_(A)
        ours.lin.lora_B.copy_(B)
        peft_lin.lora_A["default"].weight.copy_(A)
        peft_lin.lora_B["default"].weight.copy_(B)
        x = torch.randn(7, 6, dtype=DT, device=dev)
        return max(_max_diff(ours(x), theirs(x)),
                   _max_diff(ours.lin.delta_weight(), peft_lin.get_delta_weight("default")))


# --- torchvision ----------------------------------------------------------------------------------------------

def compare_vit(seed: int = 0, device: str | torch.device | None = None) -> float:
    """``architectures.vit.ViT`` vs ``torchvision.models.VisionTransformer`` (class logits, float32)."""
    from torchvision.models import VisionTransformer

    from .architectures.vit import ViT, load_torchvision_vit

    dev = _device(device)
    torch.manual_seed(seed)
    theirs = VisionTransformer(image_size=16, patch_size=4, num_layers=2, num_heads=4, hidden_dim=32, mlp_dim=64,
                               num_classes=10).eval()
    _perturb(theirs, 0.1)       # torchvision starts the head, class token and biases at zero
    ours = ViT(16, 4, in_channels=3, num_classes=10, dim=32, depth=2, num_heads=4, mlp_dim=64, embedding="conv",
               norm_eps=1e-6).eval()
    load_torchvision_vit(ours, theirs)
    ours, theirs = ours.to(dev), theirs.to(dev)
    x = torch.randn(5, 3, 16, 16, device=dev)
    # on a GPU, cuDNN would run the patch convolution in TF32 (10-bit mantissa): compare float32 with float32
    with torch.no_grad(), torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        return _max_diff(ours(x), theirs(x))


# --- sacrebleu / rouge-score -----------------------------------------------------------------------------------

_WORDS = "the a cat dog sat on mat rug and ran fast slow red blue big small".split()


def _corpus(seed: int, n: int = 12, refs: int = 2):
    rng = random.Random(seed)
    sentence = lambda: [rng.choice(_WORDS) for _ in range(rng.randint(4, 14))]  # noqa: E731
    candidates = [sentence() for _ in range(n)]
    references = [[sentence() for _ in range(refs)] for _ in range(n)]
    for c, rs in zip(candidates, references):      # copy half a candidate into its first reference: n-grams match
        rs[0][: len(c) // 2] = c[: len(c) // 2]
    return candidates, references


def compare_bleu(seed: int = 0, device: str | torch.device | None = None) -> float:
    """``evaluation.text_metrics.bleu`` vs ``sacrebleu.corpus_bleu`` (tokenize="none", no smoothing), on 0-100."""
    import sacrebleu

    from .evaluation.text_metrics import bleu

    candidates, references = _corpus(seed)
    ours = bleu(candidates, references)
    streams = [[" ".join(r[k]) for r in references] for k in range(len(references[0]))]
    theirs = sacrebleu.corpus_bleu([" ".join(c) for c in candidates], streams, tokenize="none",
                                   smooth_method="none", force=True)
    return abs(100 * ours.score - theirs.score)


def compare_rouge(seed: int = 0, device: str | torch.device | None = None) -> float:
    """``evaluation.text_metrics`` ROUGE-1, ROUGE-2 and ROUGE-L F-measures vs ``rouge_score.RougeScorer``."""
    from rouge_score import rouge_scorer

    from .evaluation import text_metrics as tm

    candidates, references = _corpus(seed, refs=1)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
    worst = 0.0
    for c, (r,) in zip(candidates, references):
        theirs = scorer.score(" ".join(r), " ".join(c))            # rouge-score takes (target, prediction)
        ours = {"rouge1": tm.rouge_n(c, r, 1), "rouge2": tm.rouge_n(c, r, 2), "rougeL": tm.rouge_l(c, r)}
        for key, value in ours.items():
            worst = max(worst, abs(value.fmeasure - theirs[key].fmeasure))
    return worst


# --- stable-baselines3 ----------------------------------------------------------------------------------------

def sb3_ppo_batch_loss(seed: int = 0, n_steps: int = 64, clip: float = 0.2) -> tuple[float, float]:
    """PPO's clipped policy loss on one batch: ``rl.ppo.ppo_clip_objective`` vs stable-baselines3's ``PPO.train``.

    stable-baselines3 computes the loss inside ``PPO.train`` and only logs it, so the batch is staged: a
    rollout buffer of ``n_steps`` CartPole states is filled with random actions, advantages and old
    log-probabilities (so that ratios leave the clip interval), advantage normalisation is off, and one
    epoch runs on one mini-batch holding the whole buffer. The first (and only) loss it logs,
    ``train/policy_gradient_loss``, is then the loss of the policy before its update, which is what
    ours computes from that policy's log-probabilities. Returns (ours, stable-baselines3's).
    """
    import numpy as np
    from stable_baselines3 import PPO
    from stable_baselines3.common.logger import configure

    from .rl.ppo import ppo_clip_objective

    model = PPO("MlpPolicy", "CartPole-v1", n_steps=n_steps, batch_size=n_steps, n_epochs=1, clip_range=clip,
                normalize_advantage=False, seed=seed, device="cpu")
    model.set_logger(configure(None, []))
    rng = np.random.default_rng(seed)
    buf = model.rollout_buffer
    buf.reset()
    for _ in range(n_steps):
        obs = rng.normal(0, 0.5, (1, 4)).astype(np.float32)
        buf.add(obs, rng.integers(0, 2, (1, 1)), np.zeros(1, np.float32), np.zeros(1, np.float32),
                torch.zeros(1, 1), torch.zeros(1))
    buf.compute_returns_and_advantage(torch.zeros(1, 1), np.zeros(1))
    buf.advantages[:] = rng.normal(0, 1, buf.advantages.shape).astype(np.float32)
    buf.log_probs[:] = np.log(rng.uniform(0.2, 0.8, buf.log_probs.shape)).astype(np.float32)
    obs = torch.as_tensor(buf.observations.reshape(n_steps, 4))
    actions = torch.as_tensor(buf.actions.reshape(n_steps))
    with torch.no_grad():
        _, log_prob, _ = model.policy.evaluate_actions(obs, actions)
    ours = ppo_clip_objective(log_prob.double(), torch.as_tensor(buf.log_probs.reshape(n_steps)).double(),
                              torch.as_tensor(buf.advantages.reshape(n_steps)).double(), clip)
    model.train()
    return float(ours), float(model.logger.name_to_value["train/policy_gradient_loss"])


def compare_ppo_loss(seed: int = 0, device: str | torch.device | None = None) -> float:
    """``|ours - stable-baselines3's|`` for PPO's clipped loss on one staged batch (see :func:`sb3_ppo_batch_loss`)."""
    ours, theirs = sb3_ppo_batch_loss(seed)
    return abs(ours - theirs)


# --- the table ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Family:
    """One row of the chapter's table: what is compared, by which function, and which unit test keeps it true."""

    family: str
    ours: str
    library: str
    compare: Callable[..., float]
    test: str
    tolerance: float


_T = "tests/unit/"
FAMILIES: tuple[Family, ...] = (
    Family("torch.nn", "architectures.attention.MultiHeadAttention", "torch.nn.MultiheadAttention",
           compare_multihead_attention,
           _T + "test_attention.py::test_mha_equals_torch_multihead_attention_without_and_with_masks", 1e-10),
    Family("torch.nn", "architectures.recurrent.Recurrent (LSTM)", "torch.nn.LSTM", compare_lstm,
           _T + "test_recurrent.py::test_equals_torch_outputs_states_and_gradients", 1e-10),
    Family("torch.nn", "architectures.convolution.conv2d", "torch.nn.Conv2d", compare_conv2d,
           _T + "test_convolution.py::test_conv2d_equals_torch", 1e-10),
    Family("torch.nn", "architectures.convolution.BatchNorm2d", "torch.nn.BatchNorm2d", compare_batch_norm,
           _T + "test_convolution.py::test_batch_norm_module_equals_torch_over_several_steps_and_in_eval", 1e-10),
    Family("diffusers", "algorithms.ddpm.ddpm_step", "diffusers.DDPMScheduler", compare_ddpm_step,
           _T + "test_ddpm.py::test_ddpm_step_matches_diffusers_for_both_variances", 1e-4),
    Family("diffusers", "algorithms.ddpm.reverse_step (eta = 0)", "diffusers.DDIMScheduler", compare_ddim_step,
           _T + "test_ddpm.py::test_reverse_step_matches_diffusers_ddim_step_on_a_subsequence", 1e-4),
    Family("transformers", "architectures.gpt.GPT", "transformers.GPT2LMHeadModel", compare_gpt2,
           _T + "test_gpt.py::test_gpt_equals_transformers_gpt2_given_the_same_weights", 1e-8),
    Family("transformers", "algorithms.contrastive.clip_loss", "transformers CLIP image_text_contrastive_loss",
           compare_clip_loss, _T + "test_contrastive.py::test_clip_loss_equals_transformers", 1e-12),
    Family("transformers", "algorithms.decoding.filter_logits", "transformers Temperature/TopK/TopPLogitsWarper",
           compare_logits_processors, _T + "test_decoding.py::test_filters_equal_transformers_logits_processors",
           1e-12),
    Family("peft", "algorithms.lora.apply_lora", "peft.get_peft_model (LoraConfig)", compare_lora,
           _T + "test_lora.py::test_equals_peft_lora_with_the_same_A_and_B", 1e-10),
    Family("torchvision", "architectures.vit.ViT", "torchvision.models.VisionTransformer", compare_vit,
           _T + "test_vit.py::test_vit_equals_torchvision", 1e-5),
    Family("sacrebleu", "evaluation.text_metrics.bleu", "sacrebleu.corpus_bleu", compare_bleu,
           _T + "test_text_metrics.py::test_bleu_equals_sacrebleu_corpus_bleu", 1e-9),
    Family("rouge-score", "evaluation.text_metrics.rouge_n / rouge_l", "rouge_score.RougeScorer", compare_rouge,
           _T + "test_text_metrics.py::test_rouge_1_2_l_equal_rouge_score", 1e-12),
    Family("stable-baselines3", "rl.ppo.ppo_clip_objective", "stable_baselines3.PPO.train (logged loss)",
           compare_ppo_loss, _T + "test_library_equivalence.py::test_ppo_loss_equals_stable_baselines3", 1e-6),
)


def equivalence_table(seed: int = 0, device: str | torch.device | None = None) -> list[dict]:
    """Run every comparison of :data:`FAMILIES`; one dict per row (family, ours, library, max_abs_diff, test)."""
    return [{"family": f.family, "ours": f.ours, "library": f.library,
             "max_abs_diff": f.compare(seed=seed, device=device), "tolerance": f.tolerance, "test": f.test}
            for f in FAMILIES]
