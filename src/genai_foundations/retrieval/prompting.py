"""Prompt assembly: ground a question in retrieved chunks, within a character budget.

:func:`grounded_prompt` numbers the chunks as sources ``[1]``, ``[2]``, ...
(each with its topic and character span, so an answer can be checked
against the source), asks the model to answer only from them and to cite
them, and stops adding chunks when the budget would be exceeded. The order
of the sources is a choice: ``order="rank"`` keeps the retriever's order;
``order="edges"`` puts the best chunks at the start and the end of the
context and the weakest in the middle, because language models use
information in the middle of a long context least well (lost in the
middle, Liu et al. 2024).
"""

from __future__ import annotations

from typing import Sequence

ORDERS = ("rank", "edges")

INSTRUCTIONS = ("Answer the question using only the sources below. Cite the sources you use as [n]. "
                "If the sources do not contain the answer, say that you do not know.")


def edges_order(n: int) -> list[int]:
    """Positions for ranks 0..n-1 that put the best first and last: ranks 0, 2, 4, ... from the front,
    1, 3, 5, ... from the back. Returns the ranks in the order they appear: e.g. n = 5 → [0, 2, 4, 3, 1]."""
    if n < 0:
        raise ValueError("n must be >= 0")
    front, back = list(range(0, n, 2)), list(range(1, n, 2))
    return front + back[::-1]


def grounded_prompt(question: str, hits: Sequence, max_chars: int = 4000, order: str = "rank") -> str:
    """The prompt: instructions, the numbered sources (objects with ``text``, ``topic``, ``start``, ``end``,
    best first), then the question. Sources are taken in rank order while the prompt stays within
    ``max_chars``; ``order`` then arranges the kept ones."""
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r}; expected one of {ORDERS}")
    if not question.strip():
        raise ValueError("the question is empty")
    head, tail = INSTRUCTIONS + "\n\n", f"\nQuestion: {question.strip()}\nAnswer:"
    kept, used = [], len(head) + len(tail)
    for hit in hits:
        block = f"[{len(kept) + 1}] ({hit.topic}, characters {hit.start}-{hit.end})\n{hit.text.strip()}\n\n"
        if used + len(block) > max_chars:
            break
        kept.append(hit)
        used += len(block)
    arranged = kept if order == "rank" else [kept[i] for i in edges_order(len(kept))]
    blocks = [f"[{n}] ({h.topic}, characters {h.start}-{h.end})\n{h.text.strip()}\n\n" for n, h in enumerate(arranged, 1)]
    return head + "".join(blocks) + tail
