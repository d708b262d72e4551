"""Chunkers keep exact character spans, respect their size limits and cover the text."""

import pytest

from genai_foundations.data.python_docs import load_python_docs, python_docs_topics
from genai_foundations.retrieval.chunking import (STRATEGIES, chunk_corpus, fixed_size_spans, recursive_chunks,
                                                  sentence_chunks, sentence_spans, with_text)


def test_fixed_size_spans_by_hand():
    assert fixed_size_spans(10, 4, 1) == [(0, 4), (3, 7), (6, 10)]
    assert fixed_size_spans(10, 4, 0) == [(0, 4), (4, 8), (8, 10)]
    assert fixed_size_spans(4, 4, 2) == [(0, 4)]
    assert fixed_size_spans(0, 4, 1) == []
    for bad in [(10, 0, 0), (10, 4, 4), (10, 4, -1)]:
        with pytest.raises(ValueError):
            fixed_size_spans(*bad)


@pytest.mark.parametrize("n, size, overlap", [(1, 3, 0), (7, 3, 2), (100, 7, 3), (50, 50, 10), (51, 50, 10)])
def test_fixed_windows_cover_with_overlap(n, size, overlap):
    spans = fixed_size_spans(n, size, overlap)
    assert spans[0][0] == 0 and spans[-1][1] == n
    assert all(e - s <= size for s, e in spans)
    for (s1, e1), (s2, _) in zip(spans, spans[1:]):
        assert s2 - s1 == size - overlap and e1 - s2 == overlap
    assert all(any(s <= i < e for s, e in spans) for i in range(n))


def test_sentences_split_at_ends_and_blank_lines():
    text = "Hello there. This is e.g. one sentence! Next? yes\n\nA new paragraph"
    pieces = [text[s:e] for s, e in sentence_spans(text)]
    assert pieces == ["Hello there.", "This is e.g. one sentence!", "Next? yes", "A new paragraph"]


def test_recursive_splits_at_headings_first():
    text = "Title\n*****\n\n" + "word " * 30 + "\n\nSecond\n======\n\n" + "more " * 30
    chunks = recursive_chunks(text, 200)
    assert [c.text.split("\n")[0] for c in chunks] == ["Title", "Second"]
    assert all(len(c) <= 200 and c.text == text[c.start:c.end] for c in chunks)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_corpus_chunks_are_exact_spans_inside_topics(strategy):
    text, topics = load_python_docs(), python_docs_topics()[:12]
    chunks = chunk_corpus(text, topics, strategy, 500, 80)
    by_name = {t.name: t for t in topics}
    assert chunks and all(c.text == text[c.start:c.end] and len(c) <= 500 for c in chunks)
    assert all(by_name[c.topic].start <= c.start < c.end <= by_name[c.topic].end for c in chunks)
    assert all(not c.text[0].isspace() and not c.text[-1].isspace() for c in chunks)
    covered = sum(len(c) for c in chunks)
    non_space = sum(not ch.isspace() for t in topics for ch in text[t.start:t.end])
    assert covered >= 0.95 * non_space  # nothing but white space between chunks is lost


def test_sentence_chunks_keep_whole_sentences_and_with_text():
    text = "One two three. Four five six. Seven eight nine. Ten."
    chunks = sentence_chunks(text, 30)
    assert [c.text for c in chunks] == ["One two three. Four five six.", "Seven eight nine. Ten."]
    blank = text.replace("Four five six.", " " * 14)
    assert with_text(chunks, blank)[0].text == "One two three.               "
    with pytest.raises(ValueError):
        chunk_corpus(text, [], "paragraphs")
