"""BM25, the keyword retriever: a sparse score from term frequencies and inverse document frequencies.

For a query :math:`q` with terms :math:`t` and a chunk :math:`c` of length
:math:`|c|` (in tokens), with :math:`f_{t,c}` the count of :math:`t` in
:math:`c`, :math:`\\bar\\ell` the mean chunk length, :math:`N` chunks and
:math:`n_t` of them containing :math:`t`, chapter 22 writes

.. math::

    \\mathrm{BM25}(q, c) = \\sum_{t \\in q} \\mathrm{idf}(t)\\,
        \\frac{f_{t,c}\\,(k_1 + 1)}{f_{t,c} + k_1\\,(1 - b + b\\,|c|/\\bar\\ell)}   \\qquad \\text{(BM25)}

with :math:`\\mathrm{idf}(t) = \\ln(N - n_t + 0.5) - \\ln(n_t + 0.5)`. That idf
is negative for a term in more than half of the chunks; variants differ in how
they floor it. ``idf="okapi"`` (the default) follows ``rank_bm25.BM25Okapi``:
a negative idf is replaced by :math:`\\varepsilon` times the mean idf over the
vocabulary (``epsilon = 0.25``), and a repeated query term counts once per
occurrence; ``idf="lucene"`` uses Lucene's never-negative
:math:`\\ln(1 + (N - n_t + 0.5)/(n_t + 0.5))`. The unit tests check the first
against ``rank_bm25.BM25Okapi`` on the same tokens.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Sequence

import numpy as np
from scipy import sparse

TOKEN = re.compile(r"[a-z0-9_]+")
IDF_VARIANTS = ("okapi", "lucene")


def tokenize(text: str) -> list[str]:
    """Lower-case runs of letters, digits and underscores: ``"__init__() of a Class"`` → ``['__init__', 'of', 'a', 'class']``."""
    return TOKEN.findall(text.lower())


def term_score(tf, idf, doc_len, avg_len, k1: float = 1.5, b: float = 0.75):
    """One term's contribution to (BM25): ``idf * tf (k1 + 1) / (tf + k1 (1 - b + b doc_len / avg_len))``.

    Works on numbers, NumPy arrays and tensors alike (broadcasting).
    """
    return idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * doc_len / avg_len))


class BM25:
    """A BM25 index over tokenised documents (chunks); :meth:`scores` gives (BM25) for every document.

    ``k1`` controls how fast repeated terms saturate, ``b`` how strongly long
    documents are penalised. The term-frequency matrix is sparse
    (documents x vocabulary), so scoring a query touches only its terms' columns.
    """

    def __init__(self, documents: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25,
                 idf: str = "okapi"):
        if not documents:
            raise ValueError("BM25 needs at least one document")
        if idf not in IDF_VARIANTS:
            raise ValueError(f"unknown idf variant {idf!r}; expected one of {IDF_VARIANTS}")
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"need k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        self.k1, self.b, self.epsilon, self.idf_variant = k1, b, epsilon, idf
        self.vocabulary: dict[str, int] = {}
        rows, cols, vals = [], [], []
        for i, doc in enumerate(documents):
            for term, count in Counter(doc).items():
                rows.append(i)
                cols.append(self.vocabulary.setdefault(term, len(self.vocabulary)))
                vals.append(count)
        self.n_docs = len(documents)
        self.doc_len = np.array([len(d) for d in documents], dtype=np.float64)
        self.avg_len = float(self.doc_len.sum() / self.n_docs)
        if self.avg_len == 0:
            raise ValueError("every document is empty")
        self.tf = sparse.csc_matrix((np.array(vals, dtype=np.float64), (rows, cols)),
                                    shape=(self.n_docs, len(self.vocabulary)))
        df = np.diff(self.tf.indptr).astype(np.float64)  # documents containing each term
        if idf == "okapi":
            idf_values = np.log(self.n_docs - df + 0.5) - np.log(df + 0.5)
            floor = epsilon * idf_values.mean() if len(idf_values) else 0.0
            self.idf = np.where(idf_values < 0, floor, idf_values)
        else:
            self.idf = np.log1p((self.n_docs - df + 0.5) / (df + 0.5))
        self._norm = k1 * (1 - b + b * self.doc_len / self.avg_len)

    def scores(self, query: Sequence[str]) -> np.ndarray:
        """(BM25) of the query tokens against every document, shape (N,), float64."""
        out = np.zeros(self.n_docs)
        for term, count in Counter(query).items():
            j = self.vocabulary.get(term)
            if j is None:
                continue
            lo, hi = self.tf.indptr[j], self.tf.indptr[j + 1]
            docs, tf = self.tf.indices[lo:hi], self.tf.data[lo:hi]
            out[docs] += count * self.idf[j] * tf * (self.k1 + 1) / (tf + self._norm[docs])
        return out

    def search(self, query: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best documents: (indices, scores), best first (ties broken by the lower index)."""
        s = self.scores(query)
        k = min(k, self.n_docs)
        order = np.lexsort((np.arange(self.n_docs), -s))[:k]
        return order, s[order]
