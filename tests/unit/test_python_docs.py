"""The frozen Python-docs corpus and the book's split (data/python_docs.py, data/python_docs_topics.txt.gz)."""

from __future__ import annotations

import gzip
import platform

import pytest

from genai_foundations.data import python_docs as pd


def test_frozen_corpus_loads_with_its_recorded_hash():
    header = pd.python_docs_header()
    text = pd.load_python_docs()
    assert pd.DATA_FILE.is_file() and pd.DATA_FILE.stat().st_size < 500_000
    assert header["source"] == "pydoc_data.topics" and header["python_version"].count(".") == 2
    assert pd.sha256_text(text) == header["sha256"] and len(text) == header["n_chars"] > 400_000
    # topic spans tile the text: sorted names, one blank line between consecutive topics
    topics = pd.python_docs_topics()
    assert [t.name for t in topics] == sorted(t.name for t in topics)
    assert topics[0].start == 0 and topics[-1].end == len(text)
    for a, b in zip(topics, topics[1:]):
        assert b.start == a.end + 2 and text[a.end:b.start] == "\n\n"
    assert text[topics[0].start:topics[0].end] == text[:topics[0].end].strip()


def test_frozen_corpus_equals_the_live_construction_on_the_recorded_python(tmp_path):
    recorded = pd.python_docs_header()["python_version"]
    if platform.python_version() != recorded:
        pytest.skip(f"pydoc_data.topics of Python {platform.python_version()} differs from the frozen text's "
                    f"Python {recorded}: only that version can rebuild it")
    live, spans = pd.build_python_docs()
    assert live == pd.load_python_docs()
    assert [[t.name, t.start, t.end] for t in spans] == pd.python_docs_header()["topics"]
    # freezing again writes the same bytes (gzip without a time stamp)
    pd.freeze_python_docs(tmp_path / "again.txt.gz")
    assert (tmp_path / "again.txt.gz").read_bytes() == pd.DATA_FILE.read_bytes()


def test_a_corrupted_file_is_refused(tmp_path):
    raw = gzip.decompress(pd.DATA_FILE.read_bytes()).decode("utf-8")
    bad = tmp_path / "bad.txt.gz"
    bad.write_bytes(gzip.compress((raw[:-1] + "X").encode("utf-8"), mtime=0))
    with pytest.raises(ValueError, match="corrupted"):
        pd.load_python_docs(bad)
    with pytest.raises(FileNotFoundError, match="missing"):
        pd.load_python_docs(tmp_path / "absent.txt.gz")


def test_the_book_split_is_90_10_by_characters_with_a_training_vocabulary():
    split = pd.python_docs_split()
    text = pd.load_python_docs()
    n = len(text)
    assert split.cut == int(0.9 * n) and split.train_text + split.val_text == text
    assert len(split.train) == split.cut and len(split.val) == n - split.cut
    # the vocabulary is the training part's characters, plus the unknown id
    train_chars = set(split.train_text)
    assert split.tokenizer.chars == tuple(sorted(train_chars))
    assert split.vocab_size == len(train_chars) + 1
    assert split.tokenizer.decode(split.train[:500]) == split.train_text[:500]
    unknown = [c for c in split.val_text if c not in train_chars]
    assert split.val_unknown == len(unknown) == int((split.val == split.tokenizer.unk_id).sum())
    # validation is the alphabetically last topics: a shift of topic
    names = [t.name for t in pd.python_docs_topics()]
    assert split.val_topics == tuple(names[-len(split.val_topics):]) and split.val_topics[-1] == names[-1]
    assert split.python_version == pd.python_docs_header()["python_version"]
    print(f"train {split.cut:,} chars, validation {n - split.cut:,} chars, V = {split.vocab_size}, "
          f"unseen validation characters: {split.val_unknown}, validation topics: {split.val_topics}")


def test_unseen_validation_characters_map_to_the_unknown_id():
    cut, tok, train, val, unknown_chars, count = pd.split_text("abcabcabca" + "xbz", val_fraction=0.3)
    assert cut == 9 and tok.chars == ("a", "b", "c") and tok.unk_id == 3 and tok.size == 4
    assert val.tolist() == [0, 3, 1, 3] and unknown_chars == "xz" and count == 2
    assert tok.decode(val) == "a\ufffdb\ufffd"
    with pytest.raises(ValueError, match="ids must lie"):
        tok.decode([4])
    with pytest.raises(ValueError, match="val_fraction"):
        pd.split_text("abc", 1.0)
