"""The book's language corpus: Python's help topics, frozen in a data file, and its one train/validation split.

:func:`build_python_docs` builds the text from
``pydoc_data.topics`` of the *running* Python: the topics sorted by key, each
stripped, joined by a blank line. That module changes with every CPython
release, and the course allows Python 3.10 and newer, so the language
chapters read a frozen copy instead:

* ``python_docs_topics.txt.gz`` (next to this module) holds one JSON header
  line (the Python version the text came from, its SHA-256, its length, and
  each topic's character span), a newline, then the text. It is written by
  :func:`freeze_python_docs` (deterministically: gzip without a time stamp);
* :func:`load_python_docs` returns the frozen text and checks its SHA-256;
* :func:`python_docs_topics` gives each topic's name and span ``[start, end)``;
* :func:`python_docs_split` is the split every language number in the book
  uses: the first 90% of the characters train, the last 10% validate, and
  the character vocabulary comes from the training part only.

Because the topics are sorted alphabetically, the validation part is the
*last topics of the alphabet* (for the frozen Python 3.11.7 text: the end of
``typesmapping``, then ``typesmethods``, ``typesmodules``, ``typesseq``,
``typesseq-mutable``, ``unary``, ``while``, ``with`` and ``yield``):
validation measures a model on topics it has not seen, a shift of topic and
not a random sample of the same text, so validation losses run higher than
on held-out sentences drawn from everywhere.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import platform
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

#: The frozen corpus, shipped with the package.
DATA_FILE = Path(__file__).with_name("python_docs_topics.txt.gz")
#: The share of characters, from the end, that validates.
VAL_FRACTION = 0.1
UNK_TOKEN = "<unk>"
#: How :meth:`CharTokenizer.decode` prints the unknown-character id.
UNK_CHAR = "\ufffd"
CONSTRUCTION = "'\\n\\n'.join(topics[key].strip() for key in sorted(topics)), topics from pydoc_data.topics"


@dataclass(frozen=True)
class DocsTopic:
    """One help topic: its key in ``pydoc_data.topics`` and its characters ``text[start:end]``."""

    name: str
    start: int
    end: int


def build_python_docs() -> tuple[str, list[DocsTopic]]:
    """The live construction from the running Python's ``pydoc_data.topics``, with each topic's span."""
    from pydoc_data.topics import topics

    parts, spans, pos = [], [], 0
    for key in sorted(topics):
        body = topics[key].strip()
        if parts:
            pos += 2  # the blank line between topics
        spans.append(DocsTopic(key, pos, pos + len(body)))
        parts.append(body)
        pos += len(body)
    return "\n\n".join(parts), spans


def sha256_text(text: str) -> str:
    """Hex SHA-256 of the text's UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def freeze_python_docs(path: str | Path = DATA_FILE) -> dict:
    """Write the running Python's corpus to ``path`` (header line + text, gzip) and return the header.

    Run once by a maintainer (``python -c "from genai_foundations.data.python_docs import
    freeze_python_docs; freeze_python_docs()"``); the book then never rebuilds it.
    """
    text, spans = build_python_docs()
    header = {
        "format": 1,
        "source": "pydoc_data.topics",
        "construction": CONSTRUCTION,
        "python_version": platform.python_version(),
        "sha256": sha256_text(text),
        "n_chars": len(text),
        "topics": [[t.name, t.start, t.end] for t in spans],
    }
    payload = (json.dumps(header, ensure_ascii=True) + "\n" + text).encode("utf-8")
    Path(path).write_bytes(gzip.compress(payload, compresslevel=9, mtime=0))
    _read_frozen.cache_clear()
    return header


@lru_cache(maxsize=4)
def _read_frozen(path: str) -> tuple[dict, str]:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"the frozen Python-docs corpus {p} is missing; it ships with the package "
                                "(regenerate with freeze_python_docs())")
    raw = gzip.decompress(p.read_bytes()).decode("utf-8")
    first, sep, text = raw.partition("\n")
    if not sep:
        raise ValueError(f"{p} has no header line")
    header = json.loads(first)
    if sha256_text(text) != header["sha256"] or len(text) != header["n_chars"]:
        raise ValueError(f"{p} is corrupted: its text does not match the recorded SHA-256 / length")
    return header, text


def python_docs_header(path: str | Path = DATA_FILE) -> dict:
    """The frozen file's header: ``python_version``, ``sha256``, ``n_chars``, ``construction``, ``topics``."""
    return dict(_read_frozen(str(path))[0])


def load_python_docs(path: str | Path = DATA_FILE) -> str:
    """The frozen corpus (about 465k characters), its SHA-256 checked against the header (ValueError if not)."""
    return _read_frozen(str(path))[1]


def python_docs_topics(path: str | Path = DATA_FILE) -> list[DocsTopic]:
    """Every topic of the frozen corpus with its span ``[start, end)``, in text order (alphabetical)."""
    return [DocsTopic(name, start, end) for name, start, end in python_docs_header(path)["topics"]]


@dataclass(frozen=True)
class CharTokenizer:
    """Characters to ids and back, with one extra id for characters outside the vocabulary.

    ``chars`` are sorted distinct characters; character ``chars[i]`` has id i
    (its position in sorted order), and ``unk_id = len(chars)`` stands for any other
    character, so ``size = len(chars) + 1``. :meth:`decode` prints the unknown
    id as U+FFFD.
    """

    chars: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.chars or len(set(self.chars)) != len(self.chars) or any(len(c) != 1 for c in self.chars):
            raise ValueError("chars must be a non-empty tuple of distinct single characters")
        object.__setattr__(self, "_index", {c: i for i, c in enumerate(self.chars)})

    @classmethod
    def from_text(cls, text: str) -> "CharTokenizer":
        return cls(tuple(sorted(set(text))))

    @property
    def unk_id(self) -> int:
        return len(self.chars)

    @property
    def size(self) -> int:
        """Vocabulary size V, the unknown id included."""
        return len(self.chars) + 1

    def __len__(self) -> int:
        return self.size

    def encode(self, text: str) -> torch.Tensor:
        """``torch.long`` ids (len(text),); characters not in ``chars`` get :attr:`unk_id`."""
        index, unk = self._index, self.unk_id  # type: ignore[attr-defined]
        return torch.tensor([index.get(c, unk) for c in text], dtype=torch.long)

    def decode(self, ids: torch.Tensor | list[int]) -> str:
        ids = torch.as_tensor(ids).reshape(-1).tolist()
        if ids and (min(ids) < 0 or max(ids) > self.unk_id):
            raise ValueError(f"ids must lie in 0..{self.unk_id}")
        return "".join(UNK_CHAR if i == self.unk_id else self.chars[i] for i in ids)

    def unknown(self, text: str) -> tuple[str, int]:
        """The distinct characters of ``text`` outside the vocabulary (sorted, as one string) and how often they occur."""
        index = self._index  # type: ignore[attr-defined]
        missing = [c for c in text if c not in index]
        return "".join(sorted(set(missing))), len(missing)


@dataclass(frozen=True)
class PythonDocsSplit:
    """The book's split of the frozen corpus (see :func:`python_docs_split`).

    ``train`` and ``val`` are 1-D ``torch.long`` id tensors of the two parts;
    ``cut`` is the character index where validation starts; ``val_unknown``
    counts validation characters that never occur in training (encoded as
    ``tokenizer.unk_id``), ``unknown_chars`` lists them; ``val_topics`` names
    the topics that validation covers (the first one possibly in part).
    """

    text: str
    cut: int
    tokenizer: CharTokenizer
    train: torch.Tensor
    val: torch.Tensor
    val_unknown: int
    unknown_chars: str
    val_topics: tuple[str, ...]
    python_version: str

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.size

    @property
    def train_text(self) -> str:
        return self.text[:self.cut]

    @property
    def val_text(self) -> str:
        return self.text[self.cut:]


def split_text(text: str, val_fraction: float = VAL_FRACTION) -> tuple[int, CharTokenizer, torch.Tensor, torch.Tensor, str, int]:
    """Cut ``text`` at :math:`\\lfloor (1 - f) N \\rfloor`, build the vocabulary on the first part, encode both.

    Returns ``(cut, tokenizer, train_ids, val_ids, unknown_chars, val_unknown)``.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction}")
    cut = int(len(text) * (1.0 - val_fraction))
    if cut < 2 or len(text) - cut < 2:
        raise ValueError(f"a text of {len(text)} characters is too short to split")
    tokenizer = CharTokenizer.from_text(text[:cut])
    unknown_chars, val_unknown = tokenizer.unknown(text[cut:])
    return cut, tokenizer, tokenizer.encode(text[:cut]), tokenizer.encode(text[cut:]), unknown_chars, val_unknown


def python_docs_split() -> PythonDocsSplit:
    """The one split of the book: the first 90% of the frozen corpus's characters train, the last 10% validate.

    The vocabulary is the distinct characters of the training part only, so
    no information from validation leaks into the model's input layer; a
    validation character never seen in training maps to the extra id
    ``tokenizer.unk_id`` and is counted in ``val_unknown`` (0 for the frozen
    3.11 text, but a model must still give that id a probability). The
    validation part is the alphabetically last topics: a shift of topic, not
    a random sample (see the module docstring).
    """
    header = python_docs_header()
    text = load_python_docs()
    cut, tokenizer, train, val, unknown_chars, val_unknown = split_text(text, VAL_FRACTION)
    val_topics = tuple(t.name for t in python_docs_topics() if t.end > cut)
    return PythonDocsSplit(text, cut, tokenizer, train, val, val_unknown, unknown_chars, val_topics,
                           header["python_version"])
