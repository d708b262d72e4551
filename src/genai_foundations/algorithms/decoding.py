"""Decoding a language model: greedy, beam search, and sampling with temperature, top-k and top-p.

A decoder gives, after tokens :math:`x_{\\le t}`, logits :math:`z \\in \\mathbb R^V`
and :math:`p(x_{t+1} = v \\mid x_{\\le t}) = \\mathrm{softmax}(z)_v`. Generation
repeats: predict, choose a token, append it, predict again.

* :func:`apply_temperature`: :math:`\\mathrm{softmax}(z / T)` (TEMP): T < 1
  sharpens the distribution, T > 1 flattens it, T -> 0 is greedy;
* :func:`top_k_filter`: keep the k largest logits, set the rest to
  :math:`-\\infty` (TOPK);
* :func:`top_p_filter` (nucleus): keep the smallest set of most probable
  tokens whose probabilities add up to at least p (TOPP);
* :func:`generate`: greedy (:math:`x_{t+1} = \\arg\\max_v z_v`) or sampling from
  the filtered distribution, one token at a time, using the model's KV cache
  (``use_cache=True``) so each step feeds only the newest token;
* :func:`beam_search`: keep the ``num_beams`` best partial sequences by
  :math:`\\sum_t \\log p(x_t \\mid x_{<t})`, and rank finished ones by that
  sum divided by :math:`(\\text{generated length})^{\\alpha}` (BEAM), with
  :math:`\\alpha` = ``length_penalty``;
* :func:`exhaustive_search` and :func:`sequence_log_prob`: the exact most
  likely continuation on a tiny vocabulary, against which beam search is checked.

**Ties and the top-p boundary.** :func:`top_k_filter` keeps every token whose
logit is at least the k-th largest, so a tie at the k-th place keeps more
than k tokens (as ``transformers``' ``TopKLogitsWarper``). :func:`top_p_filter`
sorts the probabilities in decreasing order and keeps token j when the mass
of the tokens ranked before it is *strictly* below p: a prefix that reaches
exactly p stops there, and at least one token (``min_tokens_to_keep``) is
kept. Tokens tied with the least probable kept token are kept too, so the
result never depends on how a sort orders equal values. On logits without
ties both agree with ``TopPLogitsWarper`` (up to rounding exactly at the boundary).

The model is any callable ``model(ids, cache=cache)`` returning logits
(B, n, V) with a ``new_cache()`` method, such as
:class:`genai_foundations.architectures.gpt.GPT`.
"""

from __future__ import annotations

import itertools
from typing import Any, Protocol

import torch
from torch.nn import functional as F


class CausalLM(Protocol):
    def __call__(self, ids: torch.Tensor, cache: Any = None) -> torch.Tensor: ...

    def new_cache(self) -> Any: ...


# --- filtering -------------------------------------------------------------------------------------------

def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Equation (TEMP): ``logits / T``; sampling from its softmax is sampling with temperature T > 0."""
    if not temperature > 0:
        raise ValueError(f"temperature must be positive (use greedy decoding for T -> 0), got {temperature}")
    return logits / temperature


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Equation (TOPK): logits below the k-th largest (along the last dimension) set to ``-inf``.

    Ties at the k-th value are all kept. ``k`` at least the vocabulary size keeps everything.
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    k = min(k, logits.shape[-1])
    kth = logits.topk(k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float, min_tokens_to_keep: int = 1) -> torch.Tensor:
    """Equation (TOPP): keep the most probable tokens until their probability mass reaches ``p``; the rest ``-inf``.

    With probabilities sorted in decreasing order, :math:`\\pi_{(1)} \\ge \\pi_{(2)} \\ge \\dots`,
    token (j) is kept iff :math:`\\sum_{i<j} \\pi_{(i)} < p` (the mass before it
    has not yet reached p), so the kept set is the smallest prefix with mass
    :math:`\\ge p`. ``p = 1`` keeps every token. See the module docstring for ties.
    """
    if not 0.0 < p <= 1.0:
        raise ValueError(f"p must lie in (0, 1], got {p}")
    if min_tokens_to_keep < 1:
        raise ValueError(f"min_tokens_to_keep must be positive, got {min_tokens_to_keep}")
    if p == 1.0:
        return logits
    sorted_logits, order = logits.sort(dim=-1, descending=True, stable=True)
    probs = sorted_logits.softmax(dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs
    keep_sorted = mass_before < p
    keep_sorted[..., :min_tokens_to_keep] = True
    # the least probable kept logit; every token at least as large is kept (ties)
    n_keep = keep_sorted.sum(dim=-1, keepdim=True)
    threshold = sorted_logits.gather(-1, n_keep - 1)
    return logits.masked_fill(logits < threshold, float("-inf"))


def filter_logits(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None) -> torch.Tensor:
    """Temperature, then top-k, then top-p (the order ``transformers`` applies them in)."""
    logits = apply_temperature(logits, temperature)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    return logits


def sample_token(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """One token per row of ``logits`` (B, V), drawn from the filtered distribution; returns (B,) ``torch.long``.

    The draw happens on the generator's device (a CPU generator works for CUDA
    logits), so the same seed gives the same tokens on the same device.
    """
    if logits.dim() != 2:
        raise ValueError(f"logits must be (B, V), got {tuple(logits.shape)}")
    probs = filter_logits(logits, temperature, top_k, top_p).softmax(dim=-1)
    if generator is not None and generator.device != probs.device:
        return torch.multinomial(probs.to(generator.device), 1, generator=generator)[:, 0].to(probs.device)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


# --- generation ------------------------------------------------------------------------------------------

def _check_prompt(prompt: torch.Tensor, max_new_tokens: int) -> None:
    if prompt.dim() != 2 or prompt.dtype != torch.long or prompt.shape[1] < 1:
        raise ValueError(f"prompt must be a non-empty (B, n) torch.long tensor, got {tuple(prompt.shape)} {prompt.dtype}")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be positive, got {max_new_tokens}")


def _context_length(model: Any) -> int | None:
    config = getattr(model, "config", None)
    return getattr(config, "n_positions", None)


def _check_cache_fits(model: Any, n_total: int) -> None:
    n_max = _context_length(model)
    if n_max is not None and n_total > n_max:
        raise ValueError(f"decoding with the KV cache feeds {n_total} positions, more than the model's context "
                         f"n_positions={n_max}; shorten the prompt or max_new_tokens, or pass use_cache=False "
                         "(which crops the context to the last n_positions tokens)")


@torch.no_grad()
def generate(model: CausalLM, prompt: torch.Tensor, max_new_tokens: int, *, do_sample: bool = False,
             temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
             generator: torch.Generator | None = None, use_cache: bool = True,
             eos_token_id: int | None = None, pad_token_id: int | None = None) -> torch.Tensor:
    """Extend ``prompt`` (B, n0) by up to ``max_new_tokens`` tokens, greedily or by sampling.

    Greedy (``do_sample=False``) takes :math:`\\arg\\max_v z_v` (the first index
    on ties, as ``torch.argmax``); sampling draws from
    :func:`filter_logits` (temperature, top-k, top-p). With ``use_cache`` the
    prompt is processed once and each later step feeds one token through the
    model's KV cache; without it the whole sequence (cropped to the last
    ``n_positions`` tokens) is recomputed each step: the same tokens, at a
    higher cost. A row that emits ``eos_token_id`` is finished: later positions
    hold ``pad_token_id`` (default: the EOS id), and generation stops when all
    rows are finished. Returns (B, n0 + m) with m <= ``max_new_tokens``.
    """
    _check_prompt(prompt, max_new_tokens)
    if not do_sample and (temperature != 1.0 or top_k is not None or top_p is not None):
        raise ValueError("temperature, top_k and top_p shape a sampling distribution: pass do_sample=True "
                         "(greedy decoding takes the arg max and ignores them)")
    if use_cache:
        _check_cache_fits(model, prompt.shape[1] + max_new_tokens - 1)
    pad = eos_token_id if pad_token_id is None else pad_token_id
    n_max = _context_length(model)
    cache = model.new_cache() if use_cache else None
    seq = prompt
    logits = model(prompt, cache=cache)[:, -1] if use_cache else model(prompt[:, -(n_max or 0):])[:, -1]
    finished = torch.zeros(prompt.shape[0], dtype=torch.bool, device=prompt.device)
    for step in range(max_new_tokens):
        if do_sample:
            token = sample_token(logits, temperature, top_k, top_p, generator)
        else:
            token = logits.argmax(dim=-1)
        if eos_token_id is not None:
            token = torch.where(finished, torch.full_like(token, pad), token)
            finished = finished | (token == eos_token_id)
        seq = torch.cat([seq, token[:, None]], dim=1)
        if step == max_new_tokens - 1 or bool(finished.all()):
            break
        if use_cache:
            logits = model(token[:, None], cache=cache)[:, -1]
        else:
            logits = model(seq[:, -(n_max or 0):])[:, -1]
    return seq


def greedy_decode(model: CausalLM, prompt: torch.Tensor, max_new_tokens: int, *, use_cache: bool = True,
                  eos_token_id: int | None = None) -> torch.Tensor:
    """:func:`generate` with ``do_sample=False``: the most probable token at every step."""
    return generate(model, prompt, max_new_tokens, use_cache=use_cache, eos_token_id=eos_token_id)


@torch.no_grad()
def beam_search(model: CausalLM, prompt: torch.Tensor, max_new_tokens: int, num_beams: int, *,
                length_penalty: float = 1.0, early_stopping: bool | str = False,
                eos_token_id: int | None = None, pad_token_id: int | None = None,
                use_cache: bool = True, return_scores: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Equation (BEAM): the best of ``num_beams`` hypotheses per prompt row, by ``transformers``' rules.

    Each step extends every running beam by every token, scores a candidate
    by its summed log-probability, and keeps the best :math:`2K` candidates
    (K = ``num_beams``). Of these, the ones ending in EOS (or reaching
    ``max_new_tokens``) and ranked among the first K become finished
    hypotheses with score :math:`\\sum \\log p / \\ell^{\\alpha}` (:math:`\\ell`
    the number of generated tokens, EOS included; :math:`\\alpha` =
    ``length_penalty``); the best K unfinished ones run on. Up to K finished
    hypotheses are kept. The search stops when every candidate has reached
    the length limit, when ``early_stopping=True`` and K hypotheses are
    finished, or (``early_stopping=False``) when the best running beam,
    scored at its current length, can no longer beat the worst finished one
    (``"never"`` with :math:`\\alpha > 0` scores it at the maximum length).
    These are the rules of ``GenerationMixin.generate(num_beams=K)`` in
    ``transformers`` 5, written out. Returns (B, n0 + m) (shorter
    hypotheses padded with ``pad_token_id``, default EOS), and with
    ``return_scores`` also the (B,) scores.
    """
    _check_prompt(prompt, max_new_tokens)
    if num_beams < 1:
        raise ValueError(f"num_beams must be positive, got {num_beams}")
    if early_stopping not in (True, False, "never"):
        raise ValueError(f"early_stopping must be True, False or 'never', got {early_stopping!r}")
    if use_cache:
        _check_cache_fits(model, prompt.shape[1] + max_new_tokens - 1)
    big = -1.0e9
    b, n0 = prompt.shape
    k = num_beams
    dev = prompt.device
    keep = max(2, 1 + (eos_token_id is not None)) * k
    max_len = n0 + max_new_tokens
    fill = (pad_token_id if pad_token_id is not None else eos_token_id) if eos_token_id is not None else -1
    n_max = _context_length(model)

    running = prompt.repeat_interleave(k, dim=0).view(b, k, n0)
    running_scores = torch.zeros(b, k, device=dev, dtype=torch.float64)
    running_scores[:, 1:] = big  # start from one beam: the copies only fill the slots
    done_seqs = torch.full((b, k, max_len), fill, dtype=torch.long, device=dev)
    done_scores = torch.full((b, k), big, device=dev, dtype=torch.float64)
    done_lens = torch.zeros(b, k, dtype=torch.long, device=dev)
    is_done = torch.zeros(b, k, dtype=torch.bool, device=dev)
    can_improve = torch.ones(b, 1, dtype=torch.bool, device=dev)
    first_k = torch.arange(keep, device=dev) < k
    row_offset = torch.arange(b, device=dev)[:, None] * k

    cache = model.new_cache() if use_cache else None
    logits = model(running.reshape(b * k, n0), cache=cache)[:, -1] if use_cache else \
        model(running.reshape(b * k, n0)[:, -(n_max or 0):])[:, -1]
    cur = n0
    while True:
        vocab = logits.shape[-1]
        log_p = F.log_softmax(logits.double(), dim=-1).view(b, k, vocab) + running_scores[..., None]
        top_scores, top_index = log_p.view(b, k * vocab).topk(keep, dim=-1)
        source_beam, token = top_index // vocab, top_index % vocab
        cand = torch.cat([running.gather(1, source_beam[..., None].expand(-1, -1, cur)), token[..., None]], dim=2)
        hits = torch.zeros_like(token, dtype=torch.bool) if eos_token_id is None else token == eos_token_id
        if cur + 1 >= max_len:
            hits = torch.ones_like(hits)
        # the best K unfinished candidates run on
        run_scores = top_scores + hits.double() * big
        nxt = run_scores.topk(k, dim=-1).indices
        running = cand.gather(1, nxt[..., None].expand(-1, -1, cur + 1))
        running_scores = run_scores.gather(1, nxt)
        origin = source_beam.gather(1, nxt)
        # finished candidates among the first K enter the pool of finished hypotheses
        length = cur + 1 - n0
        fin_scores = top_scores / length ** length_penalty
        full = is_done.all(dim=-1, keepdim=True) & (early_stopping is True)
        just_done = hits & first_k[None, :]
        fin_scores = fin_scores + full.double() * big + (~can_improve).double() * big + (~just_done).double() * big
        padded = torch.full((b, keep, max_len), fill, dtype=torch.long, device=dev)
        padded[:, :, :cur + 1] = cand
        merged_scores = torch.cat([done_scores, fin_scores], dim=1)
        sel = merged_scores.topk(k, dim=-1).indices
        done_seqs = torch.cat([done_seqs, padded], dim=1).gather(1, sel[..., None].expand(-1, -1, max_len))
        done_scores = merged_scores.gather(1, sel)
        done_lens = torch.cat([done_lens, torch.full_like(token, length)], dim=1).gather(1, sel)
        is_done = torch.cat([is_done, just_done], dim=1).gather(1, sel)
        cur += 1
        # can a running beam still beat the worst finished hypothesis?
        best_len = (max_len - n0) if (early_stopping == "never" and length_penalty > 0) else (cur - n0)
        best_running = running_scores[:, :1] / best_len ** length_penalty
        worst_done = torch.where(is_done, done_scores.min(dim=1, keepdim=True).values, torch.full_like(done_scores, big))
        can_improve = can_improve & (best_running > worst_done).any(dim=-1, keepdim=True)
        if not bool(can_improve.any()) or (bool(is_done.all()) and early_stopping is True) or bool(hits.all()):
            break
        if use_cache:
            cache.reorder((origin + row_offset).reshape(-1))
            logits = model(running[:, :, -1].reshape(b * k, 1), cache=cache)[:, -1]
        else:
            logits = model(running.reshape(b * k, cur)[:, -(n_max or 0):])[:, -1]
    out_len = n0 + int(done_lens[:, 0].max())
    best = done_seqs[:, 0, :out_len]
    return (best, done_scores[:, 0]) if return_scores else best


# --- exact search on a tiny vocabulary -----------------------------------------------------------------------

@torch.no_grad()
def sequence_log_prob(model: CausalLM, ids: torch.Tensor, start: int) -> torch.Tensor:
    """:math:`\\sum_{t \\ge \\text{start}} \\log p(x_t \\mid x_{<t})` for each row of ``ids`` (B, n): (B,) log-probabilities."""
    if ids.dim() != 2 or not 1 <= start < ids.shape[1]:
        raise ValueError(f"need ids (B, n) and 1 <= start < n, got {tuple(ids.shape)}, start={start}")
    log_p = F.log_softmax(model(ids[:, :-1]).double(), dim=-1)
    picked = log_p.gather(-1, ids[:, 1:, None])[..., 0]
    return picked[:, start - 1:].sum(dim=1)


@torch.no_grad()
def exhaustive_search(model: CausalLM, prompt: torch.Tensor, n_new: int, vocab_size: int,
                      max_candidates: int = 100_000) -> tuple[torch.Tensor, torch.Tensor]:
    """The most probable continuation of ``prompt`` (1, n0) of exactly ``n_new`` tokens, by trying all :math:`V^{n}`.

    Returns the sequence (1, n0 + n_new) and its log-probability. Only for a
    tiny vocabulary: it refuses more than ``max_candidates`` candidates.
    """
    if prompt.dim() != 2 or prompt.shape[0] != 1:
        raise ValueError(f"prompt must be (1, n0), got {tuple(prompt.shape)}")
    if vocab_size ** n_new > max_candidates:
        raise ValueError(f"{vocab_size}^{n_new} candidates exceed max_candidates={max_candidates}")
    tails = torch.tensor(list(itertools.product(range(vocab_size), repeat=n_new)), dtype=torch.long,
                         device=prompt.device)
    seqs = torch.cat([prompt.expand(len(tails), -1), tails], dim=1)
    scores = sequence_log_prob(model, seqs, prompt.shape[1])
    best = int(scores.argmax())
    return seqs[best:best + 1], scores[best]
