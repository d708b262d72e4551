"""The benchmark's queries: held-out sentences whose location in the source is the relevant span.

The construction (chapter 22, section 22.6), seeded and offline:

1. take the sentences of a region of the corpus (:func:`candidate_sentences`)
   that read as prose: 60 to 300 characters, at least 8 words, mostly
   letters, no code prompt (``>>>``) and no grammar rule (``::=``);
2. draw ``n`` of them at random (``seed``), keeping a sentence only if it
   occurs once in the whole corpus (the help topics repeat some passages:
   ``compound`` holds the text of ``with``, ``if``, ``for``...; a repeated
   sentence would have two right answers) and lies at least ``min_gap``
   characters from every sentence kept so far, so that no query removes
   another's context;
3. each drawn sentence becomes a query (its text, white space collapsed),
   and its span ``[start, end)`` becomes the relevant location;
4. the sentences are blanked from the indexed text (:func:`blank_spans`:
   replaced by as many spaces), so a query cannot find itself word for word:
   the retriever must find the passage the sentence was taken from by its
   surroundings. This is the inverse cloze task of Lee, Chang and Toutanova
   (2019).

:func:`context_pairs` makes the same kind of (sentence, surrounding context)
pairs for training the dense encoder, from another region of the corpus.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Sequence

from genai_foundations.retrieval.chunking import sentence_spans

WORD = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class Query:
    """A benchmark query: ``text`` (a sentence), its source span ``[start, end)`` and the topic it came from."""

    text: str
    start: int
    end: int
    topic: str

    @property
    def span(self) -> tuple[int, int]:
        return (self.start, self.end)


def normalise_space(text: str) -> str:
    """Collapse every run of white space to one space."""
    return " ".join(text.split())


def is_prose(sentence: str, min_chars: int = 60, max_chars: int = 300, min_words: int = 8) -> bool:
    """The filter of step 1: length, word count, share of letters, no code prompt or grammar rule."""
    if not min_chars <= len(sentence) <= max_chars or len(WORD.findall(sentence)) < min_words:
        return False
    if ">>>" in sentence or "::=" in sentence:
        return False
    letters = sum(ch.isalpha() or ch.isspace() for ch in sentence)
    return letters / len(sentence) >= 0.85 and sentence[0].isupper()


def candidate_sentences(text: str, topics: Sequence, region: tuple[int, int] = (0, -1)) -> list[tuple[int, int, str]]:
    """The prose sentences (step 1) lying wholly inside ``region``: ``(start, end, topic name)``."""
    lo, hi = region[0], len(text) if region[1] < 0 else region[1]
    out = []
    for topic in topics:
        a, b = max(topic.start, lo), min(topic.end, hi)
        if b <= a:
            continue
        for s, e in sentence_spans(text, a, b):
            if is_prose(text[s:e]):
                out.append((s, e, topic.name))
    return out


def held_out_sentence_queries(text: str, topics: Sequence, region: tuple[int, int], n: int, seed: int = 0,
                              min_gap: int = 200, strict: bool = True) -> list[Query]:
    """Steps 1 to 3: ``n`` prose sentences of ``region`` that occur once in ``text``, drawn with ``seed``, at least
    ``min_gap`` characters apart.

    Raises ValueError when the region has too few such sentences, unless ``strict=False``: then it
    returns as many as there are (at most ``n``).
    """
    candidates = candidate_sentences(text, topics, region)
    rng = random.Random(seed)
    rng.shuffle(candidates)
    chosen: list[tuple[int, int, str]] = []
    for s, e, name in candidates:
        if all(e + min_gap <= s2 or e2 + min_gap <= s for s2, e2, _ in chosen) and text.count(text[s:e]) == 1:
            chosen.append((s, e, name))
            if len(chosen) == n:
                break
    if len(chosen) < n and strict:
        raise ValueError(f"the region {region} holds only {len(chosen)} prose sentences {min_gap} characters apart; "
                         f"asked for {n}")
    chosen.sort()
    return [Query(normalise_space(text[s:e]), s, e, name) for s, e, name in chosen]


def blank_spans(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """``text`` with every span replaced by as many spaces (so all other character positions are unchanged)."""
    chars = list(text)
    for s, e in spans:
        if not 0 <= s <= e <= len(text):
            raise ValueError(f"span {(s, e)} lies outside a text of {len(text)} characters")
        chars[s:e] = " " * (e - s)
    return "".join(chars)


def context_pairs(text: str, topics: Sequence, region: tuple[int, int], seed: int = 0, window: int = 300,
                  min_context: int = 120) -> list[tuple[str, str]]:
    """(sentence, context) training pairs from ``region``: every prose sentence, with up to ``window``
    characters of its own topic on each side (the sentence itself removed) as the context.

    Pairs whose context has fewer than ``min_context`` non-space characters are dropped; the pairs are
    shuffled with ``seed``.
    """
    by_name = {t.name: t for t in topics}
    pairs = []
    for s, e, name in candidate_sentences(text, topics, region):
        topic = by_name[name]
        left = text[max(topic.start, s - window):s]
        right = text[e:min(topic.end, e + window)]
        context = normalise_space(left + " " + right)
        if len(context.replace(" ", "")) >= min_context:
            pairs.append((normalise_space(text[s:e]), context))
    random.Random(seed).shuffle(pairs)
    return pairs


@dataclass(frozen=True)
class TopicRoles:
    """Which help topics each part of the chapter may learn from or be tested on (see :func:`topic_roles`)."""

    benchmark: tuple
    reranker: tuple
    encoder: tuple


def topic_roles(topics: Sequence, cut: int, seed: int = 0, benchmark_share: float = 0.3,
                reranker_share: float = 0.15) -> TopicRoles:
    """Give every topic one role, so that no benchmark query's passage is ever trained on.

    The topics that reach the validation part (``end > cut``: the book's split)
    are benchmark topics. The topics of the training part are shuffled with
    ``seed`` and dealt out by characters: the first ``benchmark_share`` of the
    training characters also go to the benchmark, the next ``reranker_share``
    train the reranker, the rest train the dense encoder.
    """
    if not (0 < benchmark_share and 0 < reranker_share and benchmark_share + reranker_share < 1):
        raise ValueError("need positive shares that sum to less than 1")
    train = [t for t in topics if t.end <= cut]
    val = [t for t in topics if t.end > cut]
    order = list(range(len(train)))
    random.Random(seed).shuffle(order)
    total = sum(t.end - t.start for t in train)
    bench, rerank, enc, used = [], [], [], 0
    for i in order:
        t = train[i]
        share = used / total
        (bench if share < benchmark_share else rerank if share < benchmark_share + reranker_share else enc).append(t)
        used += t.end - t.start
    key = lambda t: t.start  # noqa: E731
    return TopicRoles(tuple(sorted(bench + val, key=key)), tuple(sorted(rerank, key=key)), tuple(sorted(enc, key=key)))
