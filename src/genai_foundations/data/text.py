"""Python's own documentation as a text corpus (``pydoc_data.topics``, ~465k characters)."""

from __future__ import annotations


def python_docs_text(max_chars: int | None = None) -> str:
    """The help topics of the running Python, concatenated in sorted topic order.

    ``max_chars`` truncates the corpus (QUICK mode). The text ships with
    CPython itself, so it is always available offline.
    """
    from pydoc_data.topics import topics

    text = "\n\n".join(topics[key].strip() for key in sorted(topics))
    if max_chars is not None:
        if max_chars <= 0:
            raise ValueError(f"max_chars must be positive, got {max_chars}")
        text = text[:max_chars]
    return text
