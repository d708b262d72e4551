"""What a reader sees of each chapter page: visible code lines, long visible cells, prose words, figures.

    python tests/page_stats.py [notebook ...]      # a table for the given (default: every) chapter

A code cell is hidden on the website when it carries one of the tags in
``HIDDEN_TAGS``. A visible code cell longer than ``MAX_VISIBLE_LINES`` lines
needs a reason in its metadata (``"visible_reason": "..."``); the test in
``tests/test_pages.py`` fails otherwise.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HIDDEN_TAGS = {"hide-input", "remove-input", "remove-cell", "hide-cell"}
MAX_VISIBLE_LINES = 15
REASON_KEY = "visible_reason"


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def code_lines(cell: dict) -> int:
    """Non-blank lines of a code cell."""
    return sum(1 for line in _source(cell).splitlines() if line.strip())


def is_visible(cell: dict) -> bool:
    return not (set(cell.get("metadata", {}).get("tags", [])) & HIDDEN_TAGS)


def prose_words(cell: dict) -> int:
    """Words of a markdown cell, not counting display maths or code blocks."""
    text = re.sub(r"\$\$.*?\$\$", " ", _source(cell), flags=re.S)
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    return len(re.findall(r"[A-Za-z][A-Za-z'\-]*", text))


def stats(path: Path) -> dict:
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    visible = [c for c in code if is_visible(c)]
    long_cells = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and is_visible(c)
                  and code_lines(c) > MAX_VISIBLE_LINES and not c.get("metadata", {}).get(REASON_KEY)]
    return {
        "chapter": Path(path).stem,
        "visible_code_lines": sum(code_lines(c) for c in visible),
        "all_code_lines": sum(code_lines(c) for c in code),
        "long_visible_cells": long_cells,
        "prose_words": sum(prose_words(c) for c in nb["cells"] if c["cell_type"] == "markdown"),
    }


def chapter_paths() -> list[Path]:
    return sorted(ROOT.glob("book/*/*.ipynb"))


if __name__ == "__main__":
    paths = [Path(p) for p in sys.argv[1:]] or chapter_paths()
    print(f"{'chapter':<24}{'visible code':>14}{'all code':>10}{'prose words':>13}  long visible cells")
    for p in paths:
        s = stats(p)
        print(f"{s['chapter']:<24}{s['visible_code_lines']:>14}{s['all_code_lines']:>10}{s['prose_words']:>13}  {s['long_visible_cells']}")
