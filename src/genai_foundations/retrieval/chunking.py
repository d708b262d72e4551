"""Chunkers: cut a source text into retrievable pieces, each keeping its character span in the source.

A chunk is a span ``[start, end)`` of the source text (``chunk.text ==
source[start:end]``), so that relevance can be defined on characters and
different chunkers compare fairly (chapter 22, section 22.3):

* :func:`fixed_size_spans` / :func:`fixed_size_chunks`: windows of ``size``
  characters that start every ``size - overlap`` characters;
* :func:`sentence_spans` / :func:`sentence_chunks`: whole sentences packed
  greedily up to ``max_chars``;
* :func:`recursive_chunks`: split at headings first, then blank lines, then
  sentences, then fixed windows, going one level deeper only for the pieces
  that are still longer than ``max_chars``, and merging neighbours that fit;
* :func:`chunk_corpus`: one strategy applied topic by topic, so that no chunk
  crosses from one help topic into the next.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

STRATEGIES = ("fixed", "sentence", "recursive")

#: A section title: a line underlined by a row of ``*``, ``=``, ``-`` or ``~`` (reStructuredText, as pydoc prints it).
HEADING = re.compile(r"^[^\n]*\S[^\n]*\n([*=\-~])\1{2,}[ \t]*$", re.M)
PARAGRAPH = re.compile(r"\n[ \t]*\n")
SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z\"'(\[*])")


@dataclass(frozen=True)
class Chunk:
    """One retrievable piece: ``text == source[start:end]``, inside help topic ``topic``."""

    start: int
    end: int
    text: str
    topic: str = ""

    def __len__(self) -> int:
        return self.end - self.start


def _check_size(size: int, overlap: int = 0) -> None:
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    if not isinstance(overlap, int) or not 0 <= overlap < size:
        raise ValueError(f"overlap must be an int in [0, size) = [0, {size}), got {overlap!r}")


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink ``[start, end)`` until it starts and ends with a non-space character (empty: start == end)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def fixed_size_spans(n_chars: int, size: int, overlap: int = 0) -> list[tuple[int, int]]:
    """Windows ``(s, min(s + size, n))`` for ``s = 0, size - overlap, 2 (size - overlap), ...``.

    The windows stop at the first one that reaches the end of the text, so
    every character lies in at least one window and consecutive windows share
    ``overlap`` characters (the last one may be shorter). ``n_chars = 0``
    gives no window.
    """
    _check_size(size, overlap)
    if n_chars < 0:
        raise ValueError(f"n_chars must be >= 0, got {n_chars}")
    spans, step = [], size - overlap
    for s in range(0, n_chars, step):
        spans.append((s, min(s + size, n_chars)))
        if s + size >= n_chars:
            break
    return spans


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentences of ``text[start:end]`` as stripped spans in ``text``'s coordinates.

    A sentence ends at ``.``, ``!`` or ``?`` followed by white space and an
    upper-case letter (or a quote, bracket or ``*``), or at a blank line; so
    "e.g. a" does not end a sentence, and a code block or a grammar rule
    separated by blank lines is one "sentence" of its own.
    """
    end = len(text) if end is None else end
    spans = []
    for para_start, para_end in _pieces(text, start, end, PARAGRAPH):
        cut = para_start
        for m in SENTENCE_END.finditer(text, para_start, para_end):
            spans.append(_strip(text, cut, m.start()))
            cut = m.end()
        spans.append(_strip(text, cut, para_end))
    return [(s, e) for s, e in spans if e > s]


def _pieces(text: str, start: int, end: int, separator: re.Pattern) -> list[tuple[int, int]]:
    """Split ``[start, end)`` at the matches of ``separator`` (separators dropped, pieces stripped)."""
    out, cut = [], start
    for m in separator.finditer(text, start, end):
        out.append(_strip(text, cut, m.start()))
        cut = m.end()
    out.append(_strip(text, cut, end))
    return [(s, e) for s, e in out if e > s]


def _heading_pieces(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split ``[start, end)`` just before each section title (the title stays with its section)."""
    cuts = [m.start() for m in HEADING.finditer(text, start, end) if m.start() > start]
    bounds = [start, *cuts, end]
    out = [_strip(text, a, b) for a, b in zip(bounds[:-1], bounds[1:])]
    return [(s, e) for s, e in out if e > s]


def _pack(spans: Sequence[tuple[int, int]], max_chars: int) -> list[tuple[int, int]]:
    """Merge consecutive spans greedily while the merged span stays within ``max_chars``."""
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if out and e - out[-1][0] <= max_chars:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _windows(text: str, start: int, end: int, size: int, overlap: int) -> list[tuple[int, int]]:
    spans = [_strip(text, start + a, start + b) for a, b in fixed_size_spans(end - start, size, overlap)]
    return [(s, e) for s, e in spans if e > s]


def sentence_chunk_spans(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Sentences of ``[start, end)`` packed greedily into spans of at most ``max_chars`` characters.

    A sentence longer than ``max_chars`` is cut into fixed windows of that size.
    """
    _check_size(max_chars)
    units: list[tuple[int, int]] = []
    for s, e in sentence_spans(text, start, end):
        units.extend([(s, e)] if e - s <= max_chars else _windows(text, s, e, max_chars, 0))
    return _pack(units, max_chars)


def recursive_chunk_spans(text: str, start: int, end: int, max_chars: int, level: int = 0) -> list[tuple[int, int]]:
    """Split ``[start, end)`` by headings, then paragraphs, then sentences, then windows, as deep as needed.

    At each level the pieces longer than ``max_chars`` are split by the next
    separator; the resulting pieces (in order) are then merged with their
    neighbours while the merged span fits in ``max_chars``.
    """
    _check_size(max_chars)
    start, end = _strip(text, start, end)
    if end <= start:
        return []
    if end - start <= max_chars:
        return [(start, end)]
    if level >= 3:
        return _windows(text, start, end, max_chars, 0)
    split: Callable[[str, int, int], list[tuple[int, int]]] = (
        _heading_pieces, lambda t, a, b: _pieces(t, a, b, PARAGRAPH), sentence_spans)[level]
    pieces = split(text, start, end)
    out: list[tuple[int, int]] = []
    for s, e in pieces:
        out.extend(recursive_chunk_spans(text, s, e, max_chars, level + 1) if e - s > max_chars else [(s, e)])
    return _pack(out, max_chars)


def _to_chunks(text: str, spans: Sequence[tuple[int, int]], topic: str) -> list[Chunk]:
    return [Chunk(s, e, text[s:e], topic) for s, e in spans]


def fixed_size_chunks(text: str, size: int, overlap: int = 0, *, start: int = 0, end: int | None = None,
                      topic: str = "") -> list[Chunk]:
    """Fixed windows over ``text[start:end]`` (see :func:`fixed_size_spans`), each stripped of outer spaces."""
    end = len(text) if end is None else end
    return _to_chunks(text, _windows(text, start, end, size, overlap), topic)


def sentence_chunks(text: str, max_chars: int, *, start: int = 0, end: int | None = None, topic: str = "") -> list[Chunk]:
    """Whole sentences packed up to ``max_chars`` (see :func:`sentence_chunk_spans`)."""
    end = len(text) if end is None else end
    return _to_chunks(text, sentence_chunk_spans(text, start, end, max_chars), topic)


def recursive_chunks(text: str, max_chars: int, *, start: int = 0, end: int | None = None, topic: str = "") -> list[Chunk]:
    """Headings, then paragraphs, then sentences (see :func:`recursive_chunk_spans`)."""
    end = len(text) if end is None else end
    return _to_chunks(text, recursive_chunk_spans(text, start, end, max_chars), topic)


def chunk_corpus(text: str, topics: Sequence, strategy: str = "recursive", max_chars: int = 600,
                 overlap: int = 100) -> list[Chunk]:
    """Chunk every topic (objects with ``name``, ``start``, ``end``) of ``text`` with one strategy.

    ``strategy`` is ``"fixed"`` (windows of ``max_chars`` with ``overlap``),
    ``"sentence"`` or ``"recursive"`` (both at most ``max_chars``; ``overlap``
    unused). Chunks never cross a topic boundary.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown chunking strategy {strategy!r}; expected one of {STRATEGIES}")
    chunks: list[Chunk] = []
    for topic in topics:
        if strategy == "fixed":
            chunks += fixed_size_chunks(text, max_chars, overlap, start=topic.start, end=topic.end, topic=topic.name)
        elif strategy == "sentence":
            chunks += sentence_chunks(text, max_chars, start=topic.start, end=topic.end, topic=topic.name)
        else:
            chunks += recursive_chunks(text, max_chars, start=topic.start, end=topic.end, topic=topic.name)
    return chunks


def with_text(chunks: Sequence[Chunk], text: str) -> list[Chunk]:
    """The same spans with their text read from another version of the source of equal length.

    The benchmark chunks the original corpus and then reads each chunk from
    the corpus with the query sentences blanked: a held-out sentence is
    removed from its chunk, and the chunk boundaries stay those of the source.
    """
    if chunks and max(c.end for c in chunks) > len(text):
        raise ValueError("the chunks reach past the end of the text")
    return [Chunk(c.start, c.end, text[c.start:c.end], c.topic) for c in chunks]
