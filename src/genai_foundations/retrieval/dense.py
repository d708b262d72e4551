"""The dense retriever's embedding model: hashed words and character n-grams, trained contrastively offline.

A text :math:`x` becomes the set :math:`F(x)` of its features: its words
(:func:`genai_foundations.retrieval.bm25.tokenize`) and the character
trigrams of each word with boundary marks (``<with>`` gives ``<wi``, ``wit``,
``ith``, ``th>``), as in fastText. Each feature is hashed (CRC-32, stable
across runs and machines) into one of :math:`H` buckets, and the embedding is
the normalised mean of the buckets' learned vectors:

.. math::

    e(x) = \\frac{m(x)}{\\lVert m(x) \\rVert},\\qquad m(x) = \\frac{1}{|F(x)|}\\sum_{f \\in F(x)} E_{h(f)}
    \\qquad \\text{(EMB)}

so that query-chunk similarity is the cosine :math:`e(q)\\cdot e(c)`. The
trigrams let "iterator" and "iterators" share most of their features, which
BM25's exact tokens cannot. :func:`train_encoder` fits :math:`E` with the
InfoNCE loss on (sentence, context) pairs: for a batch of B pairs
:math:`(q_i, c_i)`,

.. math::

    \\mathcal L = -\\frac{1}{B}\\sum_{i=1}^{B} \\log
      \\frac{\\exp(e(q_i)\\cdot e(c_i)/\\tau)}{\\sum_{j=1}^{B}\\exp(e(q_i)\\cdot e(c_j)/\\tau)}   \\qquad \\text{(NCE)}

the other contexts of the batch serving as negatives (in-batch negatives, as
in dense passage retrieval), with temperature :math:`\\tau`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from genai_foundations.retrieval.bm25 import tokenize


def features(text: str) -> list[str]:
    """The feature strings of (EMB): ``w:word`` for each word and ``c:tri`` for each trigram of ``<word>``."""
    out = []
    for word in tokenize(text):
        out.append("w:" + word)
        marked = f"<{word}>"
        out.extend("c:" + marked[i:i + 3] for i in range(len(marked) - 2))
    return out


@lru_cache(maxsize=200_000)
def _word_buckets(word: str, n_buckets: int) -> tuple[int, ...]:
    marked = f"<{word}>"
    feats = ["w:" + word, *("c:" + marked[i:i + 3] for i in range(len(marked) - 2))]
    return tuple(zlib.crc32(f.encode("utf-8")) % n_buckets for f in feats)


def hashed_features(text: str, n_buckets: int) -> list[int]:
    """Bucket ids ``crc32(feature) mod n_buckets`` of :func:`features` (stable across runs and machines).

    A word's buckets are computed once and cached, since the same words recur throughout a corpus.
    """
    out: list[int] = []
    for word in tokenize(text):
        out.extend(_word_buckets(word, n_buckets))
    return out


@dataclass(frozen=True)
class EncoderConfig:
    """Size of the hashing encoder: ``n_buckets`` hash buckets of ``dim`` numbers each."""

    n_buckets: int = 2 ** 15
    dim: int = 64

    def __post_init__(self) -> None:
        if self.n_buckets < 1 or self.dim < 1:
            raise ValueError(f"n_buckets and dim must be positive, got {self.n_buckets}, {self.dim}")


class HashingEncoder(nn.Module):
    """(EMB): a bag of hashed word and trigram embeddings, averaged and L2-normalised."""

    def __init__(self, config: EncoderConfig = EncoderConfig(), *, device: torch.device | str | None = None):
        super().__init__()
        self.config = config
        self.table = nn.EmbeddingBag(config.n_buckets, config.dim, mode="mean", device=device)
        nn.init.normal_(self.table.weight, std=1.0)

    @property
    def device(self) -> torch.device:
        return self.table.weight.device

    def bags(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Flat bucket ids and offsets for ``nn.EmbeddingBag`` (an empty text gets the bucket of ``""``)."""
        ids, offsets = [], []
        for text in texts:
            offsets.append(len(ids))
            ids.extend(hashed_features(text, self.config.n_buckets) or [0])
        return (torch.tensor(ids, dtype=torch.long, device=self.device),
                torch.tensor(offsets, dtype=torch.long, device=self.device))

    def embed_bags(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.table(ids, offsets), dim=-1)

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        """(len(texts), dim) unit vectors e(x)."""
        if isinstance(texts, str):
            raise TypeError("pass a list of texts, not one string")
        return self.embed_bags(*self.bags(texts))

    @torch.no_grad()
    def encode(self, texts: Sequence[str], batch_size: int = 512) -> torch.Tensor:
        """Embeddings of many texts without gradients, in batches: (len(texts), dim), on the encoder's device."""
        self.eval()
        parts = [self(list(texts[i:i + batch_size])) for i in range(0, len(texts), batch_size)]
        return torch.cat(parts) if parts else torch.zeros(0, self.config.dim, device=self.device)


def info_nce(queries: torch.Tensor, contexts: torch.Tensor, temperature: float) -> torch.Tensor:
    """(NCE) for matched rows of unit vectors: cross-entropy of each query against all contexts of the batch."""
    if queries.shape != contexts.shape:
        raise ValueError(f"queries and contexts must have the same shape, got {tuple(queries.shape)} and {tuple(contexts.shape)}")
    logits = queries @ contexts.T / temperature
    return F.cross_entropy(logits, torch.arange(len(queries), device=queries.device))


def train_encoder(pairs: Sequence[tuple[str, str]], *, steps: int = 600, batch_size: int = 128, lr: float = 0.05,
                  temperature: float = 0.05, config: EncoderConfig = EncoderConfig(), seed: int = 0,
                  device: torch.device | str = "cpu", progress: bool = False) -> tuple[HashingEncoder, list[float]]:
    """Fit a :class:`HashingEncoder` on (sentence, context) pairs by (NCE) with Adam; return it and the losses.

    The features of every pair are hashed once; each step draws ``batch_size``
    pairs without replacement (a new permutation each epoch, from ``seed``).
    """
    if len(pairs) < 2:
        raise ValueError("contrastive training needs at least two pairs")
    batch_size = min(batch_size, len(pairs))
    torch.manual_seed(seed)
    encoder = HashingEncoder(config, device=device)
    q_feats = [hashed_features(q, config.n_buckets) or [0] for q, _ in pairs]
    c_feats = [hashed_features(c, config.n_buckets) or [0] for _, c in pairs]
    gen = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(encoder.parameters(), lr=lr)
    order, pos, losses = torch.randperm(len(pairs), generator=gen), 0, []
    iterator = range(steps)
    if progress:
        from genai_foundations.training import progress as progress_bar  # noqa: PLC0415
        iterator = progress_bar(iterator, desc="dense encoder")

    def bag(feats: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        offsets = torch.tensor([0, *torch.tensor([len(f) for f in feats]).cumsum(0)[:-1].tolist()], dtype=torch.long)
        flat = torch.tensor([i for f in feats for i in f], dtype=torch.long)
        return flat.to(encoder.device), offsets.to(encoder.device)

    encoder.train()
    for _ in iterator:
        if pos + batch_size > len(pairs):
            order, pos = torch.randperm(len(pairs), generator=gen), 0
        idx = order[pos:pos + batch_size].tolist()
        pos += batch_size
        loss = info_nce(encoder.embed_bags(*bag([q_feats[i] for i in idx])),
                        encoder.embed_bags(*bag([c_feats[i] for i in idx])), temperature)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    encoder.eval()
    return encoder, losses
