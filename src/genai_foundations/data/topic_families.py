"""Short snippets of Python's help topics labelled by the family of topics they come from.

A small text-classification task for chapter 26 (robustness-evaluation): given 64 characters of
the frozen help text (:mod:`genai_foundations.data.python_docs`), say whether they come from a page
about *statements*, *expressions*, the *data model* (special methods and objects) or the
*built-in types*. The topics of each family are listed in :data:`TOPIC_FAMILIES`; the pdb manual
(``debugger``) belongs to none and is left out. Each topic is cut into consecutive, non-overlapping
windows, so no two snippets share a character; the train/test split is random but fixed by the seed
and balanced: every family contributes the same number of snippets to each split.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genai_foundations.data.python_docs import VAL_FRACTION, CharTokenizer, load_python_docs, python_docs_topics

TOPIC_FAMILIES: dict[str, tuple[str, ...]] = {
    "statements": ("assert", "assignment", "async", "augassign", "break", "class", "compound", "continue", "del",
                   "else", "exceptions", "execmodel", "for", "function", "global", "if", "import", "naming",
                   "nonlocal", "pass", "raise", "return", "try", "while", "with", "yield", "dynamic-features"),
    "expressions": ("atom-identifiers", "atom-literals", "attribute-references", "await", "binary", "bitwise",
                    "booleans", "calls", "comparisons", "conversions", "dict", "exprlists", "floating", "formatstrings",
                    "identifiers", "imaginary", "in", "integers", "lambda", "lists", "numbers", "operator-summary",
                    "power", "shifting", "slicings", "strings", "subscriptions", "unary"),
    "data model": ("attribute-access", "callable-types", "context-managers", "customization", "id-classes",
                   "numeric-types", "objects", "sequence-types", "specialattrs", "specialnames"),
    "built-in types": ("bltin-code-objects", "bltin-ellipsis-object", "bltin-null-object", "bltin-type-objects",
                       "string-methods", "truth", "types", "typesfunctions", "typesmapping", "typesmethods",
                       "typesmodules", "typesseq", "typesseq-mutable"),
}
FAMILIES = tuple(TOPIC_FAMILIES)


@dataclass(frozen=True)
class TopicSnippets:
    """Snippets as ids ``(N, length)`` (the book's character tokenizer), family labels ``(N,)``, and the texts."""

    ids: torch.Tensor
    labels: torch.Tensor
    texts: tuple[str, ...]
    tokenizer: CharTokenizer

    def __len__(self) -> int:
        return len(self.labels)


def topic_family_snippets(length: int = 64, per_family: tuple[int, int] = (1000, 200),
                          seed: int = 0) -> tuple[TopicSnippets, TopicSnippets]:
    """The (train, test) snippets: ``per_family = (n_train, n_test)`` windows of ``length`` characters from each family.

    Characters are encoded with the tokenizer of :func:`python_docs_split` (the book's vocabulary).
    Raises if a family has fewer than ``n_train + n_test`` windows.
    """
    if length < 8:
        raise ValueError(f"length must be at least 8 characters, got {length}")
    text = load_python_docs()
    tokenizer = CharTokenizer.from_text(text[:int(len(text) * (1.0 - VAL_FRACTION))])   # python_docs_split's vocabulary
    spans = {t.name: t for t in python_docs_topics()}
    unknown = {name for names in TOPIC_FAMILIES.values() for name in names} - set(spans)
    if unknown:
        raise KeyError(f"topics not in the corpus: {sorted(unknown)}")
    generator = torch.Generator().manual_seed(seed)
    n_train, n_test = per_family
    parts: dict[str, list] = {"train": [], "test": []}
    for label, family in enumerate(FAMILIES):
        windows = [text[s:s + length] for name in TOPIC_FAMILIES[family]
                   for s in range(spans[name].start, spans[name].end - length + 1, length)]
        if len(windows) < n_train + n_test:
            raise ValueError(f"family {family!r} has {len(windows)} windows of {length} characters, "
                             f"fewer than {n_train + n_test}")
        order = torch.randperm(len(windows), generator=generator).tolist()
        parts["train"] += [(windows[k], label) for k in order[:n_train]]
        parts["test"] += [(windows[k], label) for k in order[n_train:n_train + n_test]]

    def pack(rows: list) -> TopicSnippets:
        texts = tuple(t for t, _ in rows)
        ids = torch.stack([tokenizer.encode(t) for t in texts])
        return TopicSnippets(ids, torch.tensor([lab for _, lab in rows]), texts, tokenizer)

    return pack(parts["train"]), pack(parts["test"])
