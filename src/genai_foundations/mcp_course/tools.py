"""The course tools that the MCP server exposes, as plain typed functions (testable without MCP).

Each function validates its arguments and raises ``ValueError`` with what was
expected; the server (:mod:`genai_foundations.mcp_course.server`) registers
them, and the MCP SDK turns their type hints into the JSON schemas a client
sees in ``tools/list``.

* :func:`search_book`: rank passages of the book's text collection (the frozen
  Python help topics of :mod:`genai_foundations.data.python_docs`) for a query with
  chapter 22's retriever (:func:`genai_foundations.retrieval.build_book_search`);
* :func:`sample_digits`: draw binary 8x8 digits from the shared ``digits-pixelcnn``
  checkpoint (chapter 13's PixelCNN, sampled pixel by pixel in raster order) and
  return them as a PNG;
* :func:`gpt_parameter_count`: the transformers chapter's worked example, the
  parameter count of a GPT from its configuration (for one block
  :math:`4d^2 + 4d` in attention, :math:`2 d d_{ff} + d_{ff} + d` in the
  feed-forward layer, :math:`4d` in two layer norms), counted on the real
  :class:`~genai_foundations.architectures.gpt.GPT` built on PyTorch's ``meta``
  device (no memory is allocated).

Heavy work (the search index, the checkpoint) happens on first use, inside the functions.
"""

from __future__ import annotations

import io
import re
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, Field

TOKEN = re.compile(r"[a-z0-9_]+")
MAX_K = 20
MAX_DIGITS = 16
#: Above this many digits :func:`sample_digits` is a long call: the server asks the user first (elicitation).
CONFIRM_ABOVE = 8


class SearchHit(BaseModel):
    """One ranked passage (a chunk) of the book's text collection."""

    topic: str = Field(description="the help topic the passage belongs to, e.g. 'for' or 'lambda'")
    score: float = Field(description="the retriever's score (higher is more relevant)")
    start: int = Field(description="where the passage starts in the collection's text (characters)")
    end: int = Field(description="where it ends")
    snippet: str = Field(description="the first characters of the passage, whitespace collapsed")


class ParameterCount(BaseModel):
    """The parameters of a GPT, in total and by part (a tied output head counts once)."""

    total: int
    breakdown: dict[str, int]
    per_block: int = Field(description="parameters of one transformer block")
    formula_per_block: int = Field(description="12 d^2 + 13 d for d_ff = 4d: attention 4d^2+4d, "
                                               "feed-forward 2 d d_ff + d_ff + d, two layer norms 4d")


@lru_cache(maxsize=1)
def book_search():
    """Chapter 22's search over the chunked Python docs (:func:`genai_foundations.retrieval.build_book_search`,
    BM25 over recursive chunks), built once per process."""
    from genai_foundations.retrieval import build_book_search

    return build_book_search()


@lru_cache(maxsize=1)
def _topics() -> dict[str, str]:
    from genai_foundations.data.python_docs import load_python_docs, python_docs_topics

    text = load_python_docs()
    return {t.name: text[t.start:t.end] for t in python_docs_topics()}


def search_book(query: str, k: int = 3) -> list[SearchHit]:
    """Search the book's text collection (the Python help topics, chunked) and return the ``k`` best passages.

    The retriever is chapter 22's BM25 over recursive chunks of about 600
    characters; scores are Okapi BM25 scores.
    """
    if not isinstance(query, str) or not TOKEN.search(query.lower()):
        raise ValueError(f"query must be a string with at least one word, got {query!r}")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise ValueError(f"k must be an integer from 1 to {MAX_K}, got {k!r}")
    return [SearchHit(topic=hit.topic, score=round(float(hit.score), 4), start=hit.start, end=hit.end,
                      snippet=" ".join(hit.text.split())[:160]) for hit in book_search().search(query, k)]


def topic_names() -> list[str]:
    """The keys of the help topics, in the collection's order."""
    return list(_topics())


def topic_text(name: str) -> str:
    """The text of one help topic; ``ValueError`` naming a few known keys when ``name`` is unknown."""
    topics = _topics()
    if name not in topics:
        raise ValueError(f"unknown topic {name!r}; known topics include {', '.join(list(topics)[:8])}, ...")
    return topics[name]


@lru_cache(maxsize=1)
def _pixelcnn():
    from genai_foundations.checkpoints import load_checkpoint

    return load_checkpoint("digits-pixelcnn")


def sample_digits_tensor(n: int = 4, seed: int = 0):
    """``n`` binary digits (n, 1, 8, 8) from the ``digits-pixelcnn`` checkpoint, seeded on a CPU generator."""
    import torch

    from genai_foundations.architectures.pixelcnn import sample

    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_DIGITS:
        raise ValueError(f"n must be an integer from 1 to {MAX_DIGITS}, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return sample(_pixelcnn(), n, 8, 8, generator=torch.Generator().manual_seed(seed))


def digits_png(images, scale: int = 8, gap: int = 1) -> bytes:
    """A row of binary images (n, 1, H, W) as one PNG: each pixel a ``scale`` x ``scale`` block, white gaps."""
    import numpy as np
    from PIL import Image

    array = np.asarray(images, dtype=np.float32)
    if array.ndim != 4 or array.shape[1] != 1:
        raise ValueError(f"images must have shape (n, 1, H, W), got {array.shape}")
    n, _, h, w = array.shape
    cell = h * scale
    canvas = np.full((cell + 2 * gap, n * (w * scale + gap) + gap), 255, dtype=np.uint8)
    for i in range(n):
        block = np.kron(1.0 - array[i, 0], np.ones((scale, scale)))  # ink (1) drawn black
        x0 = gap + i * (w * scale + gap)
        canvas[gap:gap + cell, x0:x0 + w * scale] = (block * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(canvas, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def sample_digits(n: int = 4, seed: int = 0) -> bytes:
    """PNG bytes of ``n`` digits drawn from the PixelCNN (see :func:`sample_digits_tensor`)."""
    return digits_png(sample_digits_tensor(n, seed))


def gpt_parameter_count(vocab_size: int = 50257, n_positions: int = 1024, d_model: int = 768,
                        n_heads: int = 12, n_layers: int = 12) -> ParameterCount:
    """Parameters of :class:`~genai_foundations.architectures.gpt.GPT` with this configuration (tied head, d_ff = 4d).

    Built on the ``meta`` device, so GPT-2 small's 124,439,808 parameters are
    counted without allocating them. Raises ``ValueError`` for sizes that are
    not positive or a ``d_model`` that ``n_heads`` does not divide.
    """
    import torch

    from genai_foundations.architectures.gpt import GPT, GPTConfig, parameter_breakdown

    values = {"vocab_size": vocab_size, "n_positions": n_positions, "d_model": d_model, "n_heads": n_heads,
              "n_layers": n_layers}
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if d_model % n_heads:
        raise ValueError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads})")
    with torch.device("meta"):
        model = GPT(GPTConfig(**values))
    breakdown = parameter_breakdown(model)
    per_block = sum(p.numel() for p in model.blocks[0].parameters())
    d = d_model
    return ParameterCount(total=sum(breakdown.values()), breakdown=breakdown, per_block=per_block,
                          formula_per_block=12 * d * d + 13 * d)


def explain_prompt(topic: str) -> str:
    """The text of the server's prompt: ask a model to explain ``topic`` from the book's own text."""
    return (f"Explain the Python topic {topic!r} to a student in five sentences. Use only the passage below, "
            f"and say so if it does not answer the question.\n\n---\n{topic_text(topic)[:1500]}\n---")


def as_jsonable(value: Any) -> Any:
    """Pydantic models and containers of them as plain JSON values."""
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, (list, tuple)):
        return [as_jsonable(v) for v in value]
    return value
