"""A vector index for dense retrieval: exact search in PyTorch and faiss indices (exact and approximate).

Embeddings are L2-normalised, so the inner product is the cosine similarity
and the nearest neighbours of a query :math:`u` are the rows :math:`v_i`
with the largest :math:`u \\cdot v_i`:

* :func:`exact_search`: every score, then ``torch.topk`` (the check);
* :func:`build_index` with ``kind="flat"``: ``faiss.IndexFlatIP``, also exact;
  ``kind="hnsw"``: ``faiss.IndexHNSWFlat`` (a navigable small-world graph,
  approximate); ``kind="ivf"``: ``faiss.IndexIVFFlat`` (k-means cells,
  approximate: only ``nprobe`` cells are searched);
* :func:`neighbour_recall`: the share of the exact top-k that an index returns.
"""

from __future__ import annotations

import numpy as np
import torch

INDEX_KINDS = ("flat", "hnsw", "ivf")


def _as_float32(x: torch.Tensor | np.ndarray, name: str) -> np.ndarray:
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (count, dim) array, got shape {a.shape}")
    return np.ascontiguousarray(a, dtype=np.float32)


def exact_search(queries: torch.Tensor, vectors: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact maximum-inner-product search: (scores, indices), each (n_queries, k), best first."""
    if queries.dim() != 2 or vectors.dim() != 2 or queries.shape[1] != vectors.shape[1]:
        raise ValueError(f"need (m, d) queries and (N, d) vectors, got {tuple(queries.shape)} and {tuple(vectors.shape)}")
    return torch.topk(queries @ vectors.T, min(k, vectors.shape[0]), dim=1)


def build_index(vectors: torch.Tensor | np.ndarray, kind: str = "flat", *, hnsw_m: int = 16, ef_search: int = 32,
                n_cells: int = 16, nprobe: int = 2, seed: int = 0):
    """A faiss index over ``vectors`` (N, d) with the inner-product metric; see the module docstring for ``kind``."""
    import faiss

    if kind not in INDEX_KINDS:
        raise ValueError(f"unknown index kind {kind!r}; expected one of {INDEX_KINDS}")
    data = _as_float32(vectors, "vectors")
    d = data.shape[1]
    if kind == "flat":
        index = faiss.IndexFlatIP(d)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = ef_search
    else:
        if data.shape[0] < n_cells:
            raise ValueError(f"an IVF index with {n_cells} cells needs at least that many vectors, got {data.shape[0]}")
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, n_cells, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        index.train(data)
        index.nprobe = nprobe
    index.add(data)
    return index


def index_search(index, queries: torch.Tensor | np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Search a faiss index: (scores, indices), each (n_queries, k), best first (-1 where fewer were found)."""
    return index.search(_as_float32(queries, "queries"), k)


def neighbour_recall(found: np.ndarray | torch.Tensor, exact: np.ndarray | torch.Tensor) -> float:
    """Mean over queries of |found_i ∩ exact_i| / |exact_i| (rows of neighbour indices)."""
    found, exact = np.asarray(found), np.asarray(exact)
    if found.shape[0] != exact.shape[0]:
        raise ValueError("found and exact need one row per query")
    return float(np.mean([len(set(f) & set(e)) / len(e) for f, e in zip(found.tolist(), exact.tolist())]))
