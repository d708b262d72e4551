"""Metrics for generated text: perplexity, BLEU with its brevity penalty, and ROUGE-N, ROUGE-L and ROUGE-S.

Notation (chapter 26): a candidate (the model's output) is a list of tokens :math:`\\hat y`, a
reference a list :math:`y`; :math:`\\mathrm{count}(g, y)` counts the n-gram :math:`g` in
:math:`y`.

* Perplexity of a model on tokens :math:`x_1..x_N`:
  :math:`\\mathrm{PPL} = \\exp\\big(-\\tfrac1N\\sum_i \\log p_\\theta(x_i \\mid x_{<i})\\big)` (PPL).
* BLEU (Papineni et al. 2002), corpus level: modified precisions
  :math:`p_n = \\sum_{\\text{seg}}\\sum_g \\min(\\mathrm{count}(g, \\hat y), \\max_{\\text{ref}} \\mathrm{count}(g, y)) / \\sum_{\\text{seg}}\\sum_g \\mathrm{count}(g, \\hat y)`,
  brevity penalty :math:`\\mathrm{BP} = \\min(1, e^{1 - r/c})` with :math:`c` the total candidate
  length and :math:`r` the sum of the reference lengths closest to each candidate's (the shorter on
  a tie), and :math:`\\mathrm{BLEU} = \\mathrm{BP}\\cdot\\exp\\big(\\sum_{n=1}^{4} w_n \\log p_n\\big)`
  with :math:`w_n = 1/4` (BLEU). This is sacrebleu's ``corpus_bleu`` on pre-tokenised text
  (``tokenize="none"``, ``smooth_method="none"``), divided by 100.
* ROUGE (Lin 2004) for one candidate and one reference: ROUGE-N precision, recall and F1 of the
  clipped n-gram overlap; ROUGE-L from the longest common subsequence; ROUGE-S from skip-bigrams
  (ordered pairs of tokens, any gap up to ``max_skip``). With :func:`rouge_tokenize` the values
  equal ``rouge_score.RougeScorer([...], use_stemmer=False)``'s.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import torch
from torch.nn import functional as F

Tokens = Sequence[str]
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


# ---------------------------------------------------------------------------------------------------------------
# Perplexity
# ---------------------------------------------------------------------------------------------------------------
def perplexity(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """(PPL) from next-token logits ``(..., V)`` and integer targets ``(...)``: ``exp`` of the mean negative log-likelihood.

    ``mask`` (optional, the targets' shape, bool) selects the positions that count. Returns a
    0-dim tensor in the logits' dtype. A uniform model has perplexity exactly ``V``; a model can do
    worse than uniform, so the value is not bounded by ``V``.
    """
    if logits.shape[:-1] != targets.shape:
        raise ValueError(f"logits (..., V) and targets (...) disagree: {tuple(logits.shape)} vs {tuple(targets.shape)}")
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none")
    if mask is not None:
        if mask.shape != targets.shape:
            raise ValueError(f"mask must have the targets' shape {tuple(targets.shape)}, got {tuple(mask.shape)}")
        nll = nll[mask.reshape(-1)]
    if nll.numel() == 0:
        raise ValueError("no position to score")
    return nll.mean().exp()


def perplexity_from_nats(nats: float) -> float:
    """Perplexity from a mean negative log-likelihood in nats per token: ``exp(nats)``."""
    return math.exp(nats)


# ---------------------------------------------------------------------------------------------------------------
# n-grams and BLEU
# ---------------------------------------------------------------------------------------------------------------
def ngrams(tokens: Tokens, n: int) -> Counter:
    """The multiset of the ``n``-grams of ``tokens`` (tuples of ``n`` consecutive tokens)."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def _as_corpus(candidates, references) -> tuple[list[list[str]], list[list[list[str]]]]:
    if isinstance(candidates, str) or (candidates and isinstance(candidates[0], str)):
        raise TypeError("candidates must be a list of token lists (one per segment); split strings first")
    candidates = [list(c) for c in candidates]
    if len(references) != len(candidates):
        raise ValueError(f"need one list of references per candidate, got {len(references)} for {len(candidates)}")
    refs = []
    for r in references:
        if not r or isinstance(r[0], str):
            raise TypeError("references[i] must be a non-empty list of token lists (the references of segment i)")
        refs.append([list(x) for x in r])
    return candidates, refs


def closest_reference_length(candidate_length: int, reference_lengths: Sequence[int]) -> int:
    """The reference length closest to the candidate's; the shorter one on a tie (sacrebleu's and mteval's rule)."""
    return min(reference_lengths, key=lambda r: (abs(r - candidate_length), r))


@dataclass(frozen=True)
class BleuScore:
    """BLEU in [0, 1] with its parts: the modified precisions p_1..p_N, the brevity penalty, and the lengths c and r."""

    score: float
    precisions: tuple[float, ...]
    brevity_penalty: float
    candidate_length: int
    reference_length: int


def bleu(candidates: Sequence[Tokens], references: Sequence[Sequence[Tokens]], max_n: int = 4) -> BleuScore:
    """Corpus BLEU (BLEU) of tokenised ``candidates`` against ``references[i]``, a list of references for segment i.

    Counts are summed over the corpus before dividing (corpus BLEU is not the mean of sentence
    BLEUs). Without smoothing, any :math:`p_n = 0` makes the score 0.
    """
    candidates, refs = _as_corpus(candidates, references)
    matches, totals = [0] * max_n, [0] * max_n
    c = r = 0
    for cand, seg_refs in zip(candidates, refs):
        c += len(cand)
        r += closest_reference_length(len(cand), [len(x) for x in seg_refs])
        for n in range(1, max_n + 1):
            counts = ngrams(cand, n)
            best: Counter = Counter()
            for ref in seg_refs:
                best |= ngrams(ref, n)                      # the maximum count of each n-gram over the references
            matches[n - 1] += sum(min(k, best[g]) for g, k in counts.items())
            totals[n - 1] += sum(counts.values())
    precisions = tuple(m / t if t else 0.0 for m, t in zip(matches, totals))
    bp = 1.0 if c > r else (math.exp(1 - r / c) if c > 0 else 0.0)
    if min(precisions) == 0.0:
        return BleuScore(0.0, precisions, bp, c, r)
    score = bp * math.exp(sum(math.log(p) for p in precisions) / max_n)
    return BleuScore(score, precisions, bp, c, r)


# ---------------------------------------------------------------------------------------------------------------
# ROUGE
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RougeScore:
    """Precision, recall and F-measure of one ROUGE variant."""

    precision: float
    recall: float
    fmeasure: float


def rouge_tokenize(text: str) -> list[str]:
    """rouge-score's tokenisation without stemming: lower-case, every run of non-alphanumeric characters splits."""
    return [t for t in _NON_ALNUM.sub(" ", text.lower()).split() if t]


def _prf(overlap: float, n_candidate: float, n_reference: float) -> RougeScore:
    precision = overlap / n_candidate if n_candidate else 0.0
    recall = overlap / n_reference if n_reference else 0.0
    f = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return RougeScore(precision, recall, f)


def rouge_n(candidate: Tokens, reference: Tokens, n: int) -> RougeScore:
    """ROUGE-N: the clipped n-gram overlap over the candidate's n-grams (precision) and the reference's (recall), and their F1."""
    cand, ref = ngrams(candidate, n), ngrams(reference, n)
    overlap = sum((cand & ref).values())
    return _prf(overlap, sum(cand.values()), sum(ref.values()))


def lcs_length(a: Tokens, b: Tokens) -> int:
    """Length of the longest common subsequence of ``a`` and ``b`` (dynamic programming, O(len(a) len(b)))."""
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, z in enumerate(b):
            current.append(previous[j] + 1 if x == z else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(candidate: Tokens, reference: Tokens) -> RougeScore:
    """ROUGE-L: LCS / candidate length (precision), LCS / reference length (recall), and F1."""
    return _prf(lcs_length(candidate, reference), len(candidate), len(reference))


def skip_bigrams(tokens: Tokens, max_skip: int | None = None) -> Counter:
    """The multiset of ordered pairs ``(tokens[i], tokens[j])``, ``i < j``, with at most ``max_skip`` tokens between them (any gap if ``None``)."""
    if max_skip is not None and max_skip < 0:
        raise ValueError(f"max_skip must be non-negative or None, got {max_skip}")
    pairs: Counter = Counter()
    for i in range(len(tokens)):
        last = len(tokens) if max_skip is None else min(len(tokens), i + max_skip + 2)
        for j in range(i + 1, last):
            pairs[(tokens[i], tokens[j])] += 1
    return pairs


def rouge_s(candidate: Tokens, reference: Tokens, max_skip: int | None = None) -> RougeScore:
    """ROUGE-S (skip-bigram co-occurrence): clipped overlap of :func:`skip_bigrams` over each side's pair count, and F1."""
    cand, ref = skip_bigrams(candidate, max_skip), skip_bigrams(reference, max_skip)
    return _prf(sum((cand & ref).values()), sum(cand.values()), sum(ref.values()))
