"""A reranker: a learned combination of features that look at the query and a candidate chunk together.

A cross-encoder (a transformer reading query and chunk as one sequence)
would need a pretrained language model we cannot train on a 2-core CPU in a
chapter's budget. The reranker here keeps its essential property, scoring a
(query, chunk) pair jointly, with a handful of features a two-tower model
cannot compute, and learns how to weigh them:

======================  =====================================================================
``bm25``                the chunk's (BM25) score divided by the best score among the candidates
``cosine``              the dense cosine e(q) · e(c)
``bm25 rank``           ln(1 + rank) of the chunk in the BM25 list (rank 1 = best)
``dense rank``          ln(1 + rank) in the dense list
``idf coverage``        the share of the query's idf mass whose words occur in the chunk
``bigram overlap``      the share of the query's word bigrams that occur in the chunk
``length``              the chunk's length in tokens divided by the mean chunk length
======================  =====================================================================

The score is linear in the standardised features, :math:`s(q, c) = w^\\top
\\phi(q, c)`, trained listwise: for each training query the softmax over its
candidates should put its mass on the relevant chunks,

.. math::

    \\mathcal L = -\\frac{1}{|Q|}\\sum_{q\\in Q} \\log \\sum_{c \\in \\mathcal R_q}
      \\frac{\\exp s(q, c)}{\\sum_{c'} \\exp s(q, c')}   \\qquad \\text{(LIST)}

(queries whose candidates hold no relevant chunk are skipped).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

FEATURES = ("bm25", "cosine", "bm25 rank", "dense rank", "idf coverage", "bigram overlap", "length")


def pair_features(query_tokens: Sequence[str], chunk_tokens: Sequence[Sequence[str]], bm25_scores: Sequence[float],
                  cosines: Sequence[float], bm25_ranks: Sequence[int], dense_ranks: Sequence[int],
                  idf: dict[str, float], mean_length: float) -> torch.Tensor:
    """(len(chunk_tokens), 7) float32 features of the table above, one row per candidate chunk."""
    top = max(max(bm25_scores, default=0.0), 1e-9)
    q_terms = set(query_tokens)
    q_mass = sum(idf.get(t, 0.0) for t in q_terms) or 1.0
    q_bigrams = set(zip(query_tokens, query_tokens[1:]))
    rows = []
    for tokens, b, c, rb, rd in zip(chunk_tokens, bm25_scores, cosines, bm25_ranks, dense_ranks):
        present = set(tokens)
        coverage = sum(idf.get(t, 0.0) for t in q_terms & present) / q_mass
        bigrams = len(q_bigrams & set(zip(tokens, tokens[1:]))) / max(len(q_bigrams), 1)
        rows.append([b / top, c, math.log1p(rb), math.log1p(rd), coverage, bigrams, len(tokens) / mean_length])
    return torch.tensor(rows, dtype=torch.float32).reshape(-1, len(FEATURES))


class LinearReranker(nn.Module):
    """s(q, c) = w · (φ(q, c) − μ) / σ, with μ, σ the features' mean and spread over the training candidates."""

    def __init__(self, n_features: int = len(FEATURES)):
        super().__init__()
        self.weight = nn.Linear(n_features, 1, bias=False)
        nn.init.zeros_(self.weight.weight)
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Scores of the candidates, (M,) for (M, F) features."""
        return self.weight((features - self.mean) / self.std).squeeze(-1)

    def rerank(self, features: torch.Tensor, candidates: Sequence[int]) -> list[int]:
        """The candidates sorted by score, best first (stable for ties)."""
        with torch.no_grad():
            scores = self(features.to(self.mean.device)).tolist()
        return [candidates[i] for i in sorted(range(len(candidates)), key=lambda i: -scores[i])]


def listwise_loss(scores: torch.Tensor, relevant: torch.Tensor) -> torch.Tensor:
    """(LIST) for one query: −log of the softmax mass on the relevant candidates (``relevant`` a bool mask)."""
    if not relevant.any():
        raise ValueError("a training query needs at least one relevant candidate")
    return -(torch.logsumexp(scores[relevant], 0) - torch.logsumexp(scores, 0))


def fit_reranker(features: Sequence[torch.Tensor], relevant: Sequence[torch.Tensor], *, steps: int = 300,
                 lr: float = 0.05, seed: int = 0, device: torch.device | str = "cpu") -> tuple[LinearReranker, list[float]]:
    """Fit (LIST) with Adam on full batches; ``features[i]`` (M_i, F), ``relevant[i]`` a (M_i,) bool mask."""
    keep = [(f, r) for f, r in zip(features, relevant) if bool(r.any())]
    if not keep:
        raise ValueError("no training query has a relevant chunk among its candidates")
    torch.manual_seed(seed)
    model = LinearReranker(keep[0][0].shape[1]).to(device)
    stacked = torch.cat([f for f, _ in keep])
    model.mean.copy_(stacked.mean(0))
    model.std.copy_(stacked.std(0).clamp_min(1e-6))
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    keep = [(f.to(device), r.to(device)) for f, r in keep]
    losses = []
    for _ in range(steps):
        loss = torch.stack([listwise_loss(model(f), r) for f, r in keep]).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return model.eval(), losses
