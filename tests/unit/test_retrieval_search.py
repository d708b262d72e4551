"""Query construction, the book search entry point, prompt assembly and a small end-to-end benchmark."""

import pytest

from genai_foundations.data.python_docs import load_python_docs, python_docs_split, python_docs_topics
from genai_foundations.retrieval import Hit, build_book_search
from genai_foundations.retrieval.benchmark import run_benchmark
from genai_foundations.retrieval.dense import EncoderConfig, train_encoder
from genai_foundations.retrieval.prompting import edges_order, grounded_prompt
from genai_foundations.retrieval.queries import (blank_spans, context_pairs, held_out_sentence_queries, is_prose,
                                                 topic_roles)


def test_topic_roles_are_disjoint_and_cover():
    topics, cut = python_docs_topics(), python_docs_split().cut
    roles = topic_roles(topics, cut, seed=0)
    names = [t.name for group in (roles.benchmark, roles.reranker, roles.encoder) for t in group]
    assert sorted(names) == sorted(t.name for t in topics)
    assert all(t.end <= cut for t in roles.encoder + roles.reranker)  # training roles: the training part only
    assert all(t in roles.benchmark for t in topics if t.end > cut)


def test_queries_are_seeded_prose_and_spaced():
    text, topics = load_python_docs(), python_docs_topics()
    roles = topic_roles(topics, python_docs_split().cut, seed=0)
    q1 = held_out_sentence_queries(text, roles.benchmark, (0, len(text)), 60, seed=3, min_gap=250)
    q2 = held_out_sentence_queries(text, roles.benchmark, (0, len(text)), 60, seed=3, min_gap=250)
    assert q1 == q2 and len(q1) == 60
    assert all(" ".join(text[q.start:q.end].split()) == q.text and is_prose(text[q.start:q.end]) for q in q1)
    assert all(b.start - a.end >= 250 for a, b in zip(q1, q1[1:]))
    masked = blank_spans(text, [q.span for q in q1])
    assert len(masked) == len(text) and all(masked[q.start:q.end].strip() == "" for q in q1)
    with pytest.raises(ValueError):
        held_out_sentence_queries(text, roles.benchmark[:1], (0, len(text)), 10_000)


def test_book_search_entry_point():
    search = build_book_search()
    hits = search.search("what does the __exit__ method return when the suite raised an exception", k=3)
    assert len(hits) == 3 and all(isinstance(h, Hit) for h in hits)
    assert hits[0].score >= hits[1].score >= hits[2].score
    text = load_python_docs()
    assert all(text[h.start:h.end] == h.text for h in hits)
    assert {"with", "compound"} & {h.topic for h in hits}
    with pytest.raises(ValueError):
        search.search("  ", 3)


def test_grounded_prompt():
    hits = [Hit(f"text {i}", 1.0 - i / 10, 10 * i, 10 * i + 6, f"t{i}", i) for i in range(5)]
    prompt = grounded_prompt("What is it?", hits, max_chars=4000)
    assert prompt.index("[1] (t0") < prompt.index("[2] (t1") and prompt.endswith("Question: What is it?\nAnswer:")
    assert edges_order(5) == [0, 2, 4, 3, 1]
    edges = grounded_prompt("What is it?", hits, order="edges")
    assert [edges.index(f"text {i}") for i in (0, 2, 4, 3, 1)] == sorted(edges.index(f"text {i}") for i in range(5))
    short = grounded_prompt("What is it?", hits, max_chars=300)
    assert len(short) <= 300 and "text 0" in short and "text 4" not in short


def test_small_benchmark_end_to_end():
    text, topics = load_python_docs(), python_docs_topics()
    cut = python_docs_split().cut
    roles = topic_roles(topics, cut, seed=0)
    encoder, _ = train_encoder(context_pairs(text, roles.encoder, (0, cut))[:200], steps=15, batch_size=64,
                               config=EncoderConfig(2 ** 12, 16))
    queries = held_out_sentence_queries(text, roles.benchmark, (0, len(text)), 20, seed=0)
    train_q = held_out_sentence_queries(text, roles.reranker, (0, cut), 20, seed=0)
    result = run_benchmark(text, topics, queries, train_q, encoder, strategies=("recursive",), reranker_steps=20)
    row = result.table["recursive"]
    assert set(row) == {"bm25", "dense", "hybrid", "hybrid + reranker"}
    assert all(0 <= v["R@1"] <= v["R@5"] <= v["R@10"] <= 1 and v["MRR"] >= v["R@1"] for v in row.values())
    assert row["bm25"]["R@10"] > 0.2  # far above chance (10 of about 1,000 chunks)
