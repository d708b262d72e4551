"""Count-based n-gram models: the baseline every neural autoregressive model is measured against.

An n-gram model keeps the chain rule but truncates the history to the last
:math:`n - 1` tokens,

.. math:: p(x_t \\mid x_{<t}) \\approx p(x_t \\mid x_{t-n+1:t-1}),

and estimates each conditional from counts :math:`c(\\cdot)` of the training
text. The maximum-likelihood estimate :math:`c(h, x) / c(h)` gives
probability 0 to every continuation not seen after the context h, so a
model is *smoothed*:

* **add-k** (Laplace for k = 1):
  :math:`p(x \\mid h) = \\dfrac{c(h, x) + k}{c(h) + kV}`;
* **interpolated absolute discounting** (the core of Kneser-Ney):
  subtract a discount :math:`D \\in (0, 1)` from every seen count and give
  the freed mass to the model of the next lower order,

  .. math:: p_m(x \\mid h) = \\frac{\\max(c(h, x) - D, 0)}{c(h)}
            + \\frac{D\\, N_{1+}(h)}{c(h)}\\, p_{m-1}(x \\mid h'),

  with :math:`N_{1+}(h)` the number of distinct tokens seen after h,
  :math:`h'` the context without its oldest token, :math:`p_m = p_{m-1}`
  for a context never seen, and the uniform :math:`1/V` below order 1.

Both are distributions over the V tokens for every context (tested).
:class:`NGramCounts` counts every m-gram up to a maximum order once (as
integers in base V, sorted, so that look-ups are vectorised binary
searches); :class:`NGramModel` is one order and one smoothing on top of
those counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

SMOOTHINGS = ("add-k", "absolute")


def _as_ids(ids: torch.Tensor | np.ndarray | list[int], vocab_size: int) -> np.ndarray:
    array = np.asarray(ids.cpu() if isinstance(ids, torch.Tensor) else ids, dtype=np.int64).reshape(-1)
    if array.size and (array.min() < 0 or array.max() >= vocab_size):
        raise ValueError(f"token ids must lie in 0..{vocab_size - 1}")
    return array


def _codes(ids: np.ndarray, length: int, vocab_size: int) -> np.ndarray:
    """Every window of ``length`` tokens as one integer in base V (oldest token most significant)."""
    n = len(ids) - length + 1
    code = np.zeros(max(n, 0), dtype=np.int64)
    for j in range(length):
        code = code * vocab_size + ids[j:j + n]
    return code


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """values[i] where keys[i] == query, 0 where the query is absent (keys sorted)."""
    if len(keys) == 0:
        return np.zeros(query.shape, dtype=values.dtype)
    pos = np.searchsorted(keys, query).clip(max=len(keys) - 1)
    return np.where(keys[pos] == query, values[pos], 0)


class NGramCounts:
    """Counts of every m-gram of ``ids`` for m = 1..``max_order`` (V-ary integer codes, sorted).

    For each order m it stores the distinct m-grams with their counts
    :math:`c(h, x)`, and for each distinct context h (the first m - 1 tokens)
    its total :math:`c(h) = \\sum_x c(h, x)` and its number of distinct
    followers :math:`N_{1+}(h)`.
    """

    def __init__(self, ids: torch.Tensor | np.ndarray | list[int], vocab_size: int, max_order: int) -> None:
        if vocab_size < 1 or max_order < 1:
            raise ValueError(f"vocab_size and max_order must be positive, got {vocab_size}, {max_order}")
        if vocab_size ** max_order >= 2**62:
            raise ValueError(f"V^max_order = {vocab_size}^{max_order} does not fit 64-bit codes; lower max_order")
        ids = _as_ids(ids, vocab_size)
        if len(ids) < max_order:
            raise ValueError(f"need at least max_order = {max_order} tokens, got {len(ids)}")
        self.vocab_size, self.max_order, self.n_tokens = vocab_size, max_order, len(ids)
        self.grams: list[tuple[np.ndarray, np.ndarray]] = []
        self.contexts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for m in range(1, max_order + 1):
            grams, counts = np.unique(_codes(ids, m, vocab_size), return_counts=True)
            context, inverse = np.unique(grams // vocab_size, return_inverse=True)
            totals = np.bincount(inverse, weights=counts).astype(np.int64)
            distinct = np.bincount(inverse).astype(np.int64)
            self.grams.append((grams, counts.astype(np.int64)))
            self.contexts.append((context, totals, distinct))

    def count(self, order: int, context_codes: np.ndarray, tokens: np.ndarray) -> tuple[np.ndarray, ...]:
        """``(c(h, x), c(h), N1+(h))`` for contexts given as codes of ``order - 1`` tokens."""
        grams, counts = self.grams[order - 1]
        context, totals, distinct = self.contexts[order - 1]
        joint = _lookup(grams, counts, context_codes * self.vocab_size + tokens)
        return joint, _lookup(context, totals, context_codes), _lookup(context, distinct, context_codes)

    def distinct(self, order: int) -> int:
        """How many distinct m-grams of this order the text holds."""
        return len(self.grams[order - 1][0])


@dataclass
class NGramModel:
    """An n-gram model of ``order`` n on top of :class:`NGramCounts`, with add-k or absolute-discount smoothing.

    ``order`` 1 is the unigram model (no context). ``k`` is the add-k
    pseudo-count, ``discount`` the D of absolute discounting. A context
    shorter than n - 1 (the start of a text) uses the model of its own length + 1.
    """

    counts: NGramCounts
    order: int
    smoothing: str = "absolute"
    k: float = 1.0
    discount: float = 0.75

    def __post_init__(self) -> None:
        if not 1 <= self.order <= self.counts.max_order:
            raise ValueError(f"order must lie in 1..{self.counts.max_order} (the counts' max_order), got {self.order}")
        if self.smoothing not in SMOOTHINGS:
            raise ValueError(f"unknown smoothing {self.smoothing!r}; expected one of {SMOOTHINGS}")
        if self.smoothing == "add-k" and not self.k > 0:
            raise ValueError(f"add-k smoothing needs k > 0, got {self.k}")
        if self.smoothing == "absolute" and not 0 < self.discount < 1:
            raise ValueError(f"the discount D must lie in (0, 1), got {self.discount}")

    @property
    def vocab_size(self) -> int:
        return self.counts.vocab_size

    def describe(self) -> str:
        detail = f"k = {self.k:g}" if self.smoothing == "add-k" else f"D = {self.discount:g}"
        return f"{self.order}-gram, {'add-k' if self.smoothing == 'add-k' else 'absolute discounting'} ({detail})"

    def _probs(self, histories: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """p(token | history) for rows of ``histories`` (N, order - 1) and ``tokens`` (N,), float64."""
        V = self.vocab_size
        m_max = histories.shape[1] + 1
        if self.smoothing == "add-k":
            code = np.zeros(len(tokens), dtype=np.int64)
            for j in range(m_max - 1):
                code = code * V + histories[:, j]
            joint, total, _ = self.counts.count(m_max, code, tokens)
            return (joint + self.k) / (total + self.k * V)
        p = np.full(len(tokens), 1.0 / V)
        D = self.discount
        for m in range(1, m_max + 1):          # the lower orders first: context = the last m - 1 tokens
            code = np.zeros(len(tokens), dtype=np.int64)
            for j in range(m_max - m, m_max - 1):
                code = code * V + histories[:, j]
            joint, total, distinct = self.counts.count(m, code, tokens)
            seen = total > 0
            safe = np.where(seen, total, 1)
            p = np.where(seen, np.maximum(joint - D, 0.0) / safe + D * distinct / safe * p, p)
        return p

    def prob_vector(self, context: torch.Tensor | list[int]) -> torch.Tensor:
        """The distribution :math:`p(\\cdot \\mid h)` over the V tokens (float64, sums to 1) after ``context``."""
        ctx = _as_ids(context, self.vocab_size)[-(self.order - 1):] if self.order > 1 else np.zeros(0, np.int64)
        histories = np.repeat(ctx[None], self.vocab_size, axis=0)
        return torch.from_numpy(self._probs(histories, np.arange(self.vocab_size)))

    def log_probs(self, ids: torch.Tensor | list[int], start: int = 1) -> torch.Tensor:
        """:math:`\\log p(x_t \\mid x_{t-n+1:t-1})` for t = ``start``..len - 1 (float64), contexts from ``ids`` only."""
        ids = _as_ids(ids, self.vocab_size)
        if not 0 <= start < len(ids):
            raise ValueError(f"start must lie in 0..{len(ids) - 1}, got {start}")
        width = self.order - 1
        out = np.empty(len(ids) - start)
        first_full = max(start, width)
        for t in range(start, min(first_full, len(ids))):          # the first tokens: shorter contexts
            out[t - start] = self._probs(ids[None, :t], ids[t:t + 1])[0]
        if first_full < len(ids):
            rows = np.arange(first_full, len(ids))
            histories = ids[rows[:, None] + np.arange(-width, 0)[None]] if width else np.zeros((len(rows), 0), np.int64)
            out[first_full - start:] = self._probs(histories, ids[rows])
        return torch.from_numpy(np.log(out))

    def nats_per_token(self, ids: torch.Tensor | list[int]) -> float:
        """Mean next-token cross-entropy (nats) over ``ids[1:]``: :math:`-\\frac{1}{N-1}\\sum_t \\log p(x_t \\mid \\cdot)`."""
        return float(-self.log_probs(ids, start=1).mean())

    def sample(self, prompt: torch.Tensor | list[int], n_new: int, *, generator: torch.Generator | None = None,
               temperature: float = 1.0) -> torch.Tensor:
        """Continue ``prompt`` by ``n_new`` tokens drawn one at a time from :meth:`prob_vector` (the sampling loop)."""
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        ids = [int(i) for i in _as_ids(prompt, self.vocab_size)]
        for _ in range(n_new):
            p = self.prob_vector(ids).pow(1.0 / temperature)
            ids.append(int(torch.multinomial(p / p.sum(), 1, generator=generator)))
        return torch.tensor(ids, dtype=torch.long)


def unigram_model(ids: torch.Tensor, vocab_size: int, k: float = 1.0) -> NGramModel:
    """The order-1 model with add-k smoothing: :math:`p(x) = (c(x) + k) / (N + kV)`, no context at all."""
    return NGramModel(NGramCounts(ids, vocab_size, 1), 1, "add-k", k=k)


@dataclass(frozen=True)
class NGramChoice:
    """The outcome of :func:`select_ngram`: every setting's held-out loss and the best one."""

    scores: dict[tuple[int, str, float], float]
    order: int
    smoothing: str
    parameter: float

    def model(self, counts: NGramCounts) -> NGramModel:
        kw = {"k": self.parameter} if self.smoothing == "add-k" else {"discount": self.parameter}
        return NGramModel(counts, self.order, self.smoothing, **kw)


def select_ngram(train: torch.Tensor, vocab_size: int, *, orders: range | list[int] = range(1, 9),
                 ks: tuple[float, ...] = (0.01, 0.1, 1.0), discounts: tuple[float, ...] = (0.5, 0.75, 0.9),
                 held_out: float = 0.1) -> NGramChoice:
    """Choose n and the smoothing on the last ``held_out`` share of the *training* ids (never on validation).

    Counts come from the first part; each (order, smoothing, k or D) is scored
    by its mean nats per token on the held-out part; the lowest wins.
    """
    if not 0 < held_out < 1:
        raise ValueError(f"held_out must lie in (0, 1), got {held_out}")
    cut = int(len(train) * (1 - held_out))
    counts = NGramCounts(train[:cut], vocab_size, max(orders))
    scores: dict[tuple[int, str, float], float] = {}
    for order in orders:
        for k in ks:
            scores[(order, "add-k", k)] = NGramModel(counts, order, "add-k", k=k).nats_per_token(train[cut:])
        for d in discounts:
            scores[(order, "absolute", d)] = NGramModel(counts, order, "absolute", discount=d).nats_per_token(train[cut:])
    best = min(scores, key=scores.get)
    if not all(math.isfinite(v) for v in scores.values()):
        raise FloatingPointError("a smoothed n-gram model gave a non-finite loss")
    return NGramChoice(scores, *best)


def unseen_context_share(counts: NGramCounts, ids: torch.Tensor, order: int) -> float:
    """The share of positions of ``ids`` whose context (the previous ``order - 1`` tokens) never occurs in the counts.

    This is the sparsity of counts: where it is high, an order-n model has
    nothing to say and must fall back on a lower order (or on k alone).
    """
    if not 2 <= order <= counts.max_order:
        raise ValueError(f"order must lie in 2..{counts.max_order}, got {order}")
    ids = _as_ids(ids, counts.vocab_size)
    width = order - 1
    if len(ids) <= width:
        raise ValueError(f"need more than {width} tokens")
    code = np.zeros(len(ids) - width, dtype=np.int64)
    for j in range(width):
        code = code * counts.vocab_size + ids[j:len(ids) - width + j]
    context, totals, _ = counts.contexts[order - 1]
    return float((_lookup(context, totals, code) == 0).mean())


def bigram_probabilities(ids: torch.Tensor, vocab_size: int, k: float = 1.0) -> torch.Tensor:
    """The add-k bigram table P (V, V), float64: :math:`P_{ij} = p(x_t = j \\mid x_{t-1} = i) = \\dfrac{c(i, j) + k}{c(i) + kV}`.

    ``c(i, j)`` counts the adjacent pairs (i, j) of the 1-D ``ids`` and
    ``c(i) = sum_j c(i, j)`` the times i is followed by anything (the last token
    is followed by nothing). Every row sums to 1; a token never seen as a
    context gets the uniform row.
    """
    if ids.dim() != 1 or ids.dtype != torch.long:
        raise ValueError(f"ids must be a 1-D torch.long tensor, got shape {tuple(ids.shape)} {ids.dtype}")
    if not k > 0:
        raise ValueError(f"k must be positive, got {k}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(f"token ids must lie in 0..{vocab_size - 1}")
    pairs = ids[:-1] * vocab_size + ids[1:]
    counts = torch.bincount(pairs, minlength=vocab_size * vocab_size).reshape(vocab_size, vocab_size).double()
    return (counts + k) / (counts.sum(dim=1, keepdim=True) + k * vocab_size)
