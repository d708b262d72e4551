"""Each chapter page reads like a book page (issue 9, sections 3, 4 and 6; conventions.md, "A chapter notebook").

For every notebook in ``_toc.yml``:

* no code cell of more than ``MAX_VISIBLE_LINES`` non-blank lines is visible on the website unless
  its metadata says why (``"visible_reason": "..."``); hidden means one of the tags in
  ``page_stats.HIDDEN_TAGS``;
* the chapter links the notation page (``{doc}`../notation```, a ``{ref}`` to one of its labels,
  or a Markdown link to ``notation.md``);
* it ends with 4 to 8 conceptual questions, each answered in a ``{dropdown}``, in a section whose
  heading names them (after it, no visible code);
* it does not define its own ``show_code`` (it imports ``genai_foundations.display.show_code``).

These tests read the committed notebooks only; nothing is executed.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from notebook_pipeline import ROOT, chapter_notebooks  # noqa: E402
from page_stats import HIDDEN_TAGS, MAX_VISIBLE_LINES, REASON_KEY, code_lines, is_visible, stats  # noqa: E402

CHAPTERS = chapter_notebooks()
MIN_QUESTIONS, MAX_QUESTIONS = 4, 8

NOTATION_LINK = re.compile(
    r"\{doc\}`(?:[^`<]*<)?(?:/|(?:\.\./)*)(?:book/)?notation>?`"  # {doc}`../notation`, {doc}`the table <../notation>`
    r"|\{ref\}`(?:[^`<]*<)?notation-[\w-]+>?`"                    # {ref}`notation-time`
    r"|\]\((?:\.\./)*(?:book/)?notation(?:\.md)?(?:#[^)]*)?\)"    # [notation](../notation.md)
)
HEADING = re.compile(r"^(#{1,6})\s+(.*)$", re.M)
QUESTIONS_HEADING = re.compile(r"question", re.I)
DROPDOWN = re.compile(r"^[ \t]*(?P<fence>`{3,}|:{3,})\{dropdown\}[^\n]*\n(?P<body>.*?)^[ \t]*(?P=fence)[ \t]*$",
                      re.M | re.S)  # may be indented inside a numbered list item
SHOW_CODE_DEF = re.compile(r"^\s*(?:async\s+)?def\s+show_code\s*\(|^\s*show_code\s*=\s*lambda\b", re.M)


def _cells(chapter: Path) -> list[dict]:
    return json.loads((ROOT / chapter).read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _ids(chapter: Path) -> str:
    return chapter.stem


def questions_section(cells: list[dict]) -> tuple[int, str] | None:
    """(index of the cell holding the last heading that names questions, the section's markdown)."""
    found = None
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        for match in HEADING.finditer(_source(cell)):
            if QUESTIONS_HEADING.search(match.group(2)):
                found = (i, len(match.group(1)), match.start())
    if found is None:
        return None
    index, level, start = found
    parts = [_source(cells[index])[start:]]
    for cell in cells[index + 1:]:
        if cell["cell_type"] == "markdown":
            parts.append(_source(cell))
    text = "\n".join(parts)
    # the section ends at the next heading of the same or a higher level
    for match in HEADING.finditer(text):
        if match.start() > 0 and len(match.group(1)) <= level:
            text = text[:match.start()]
            break
    return index, text


def test_there_are_chapters():
    assert len(CHAPTERS) >= 12, f"expected the 12 chapters of _toc.yml, found {[c.stem for c in CHAPTERS]}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=_ids)
def test_no_long_visible_code_cell_without_a_reason(chapter):
    long_cells = stats(ROOT / chapter)["long_visible_cells"]
    cells = _cells(chapter)
    detail = [f"cell {i} ({code_lines(cells[i])} lines)" for i in long_cells]
    assert not long_cells, (
        f"{chapter}: visible code cells longer than {MAX_VISIBLE_LINES} non-blank lines: {', '.join(detail)}. "
        f"Hide them (a tag among {sorted(HIDDEN_TAGS)}), move code into the package, or give the cell "
        f"metadata {{\"{REASON_KEY}\": \"<why the reader must see it>\"}}.")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=_ids)
def test_chapter_links_the_notation_page(chapter):
    markdown = "\n".join(_source(c) for c in _cells(chapter) if c["cell_type"] == "markdown")
    assert NOTATION_LINK.search(markdown), (
        f"{chapter}: no link to the notation page; say which convention the chapter uses and link it "
        "with {doc}`../notation`")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=_ids)
def test_chapter_ends_with_conceptual_questions_with_dropdown_answers(chapter):
    cells = _cells(chapter)
    section = questions_section(cells)
    assert section is not None, f"{chapter}: no section whose heading names the conceptual questions"
    index, text = section
    answers = [m.group("body") for m in DROPDOWN.finditer(text)]
    assert MIN_QUESTIONS <= len(answers) <= MAX_QUESTIONS, (
        f"{chapter}: {len(answers)} dropdown answers in the questions section (cell {index}); "
        f"expected {MIN_QUESTIONS} to {MAX_QUESTIONS}, each written ```{{dropdown}} Answer ... ```")
    empty = [k for k, body in enumerate(answers, 1) if not body.strip()]
    assert not empty, f"{chapter}: empty answers in dropdowns {empty}"
    later_code = [i for i, c in enumerate(cells) if i > index and c["cell_type"] == "code" and is_visible(c)]
    assert not later_code, f"{chapter}: visible code cells {later_code} come after the questions; they end the chapter"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=_ids)
def test_chapter_does_not_define_show_code(chapter):
    defining = [i for i, c in enumerate(_cells(chapter)) if c["cell_type"] == "code" and SHOW_CODE_DEF.search(_source(c))]
    assert not defining, (
        f"{chapter}: cells {defining} define show_code; use `from genai_foundations.display import show_code`")


def test_the_checks_recognise_what_they_look_for():
    """The patterns above on small examples, so that a chapter fails for its content, not for a regex."""
    assert NOTATION_LINK.search("as in the {doc}`../notation` table")
    assert NOTATION_LINK.search("see {doc}`the notation page <../notation>`")
    assert NOTATION_LINK.search("see {ref}`notation-time`")
    assert NOTATION_LINK.search("see {doc}`/book/notation`")
    assert NOTATION_LINK.search("[notation](../notation.md#notation-time)")
    assert not NOTATION_LINK.search("our notation is standard")
    cells = [{"cell_type": "markdown", "source": "## 4.9 Summary\ntext"},
             {"cell_type": "markdown", "source": "## Conceptual questions\n\n1. Why?\n\n```{dropdown} Answer\nBecause.\n```\n"
                                                 "\n2. How?\n\n:::{dropdown} Answer\nSo.\n:::\n"
                                                 "\n3. Why not?\n\n   ```{dropdown} Answer\n   Indented.\n   ```\n\n## References"},
             {"cell_type": "code", "source": "record_result(...)", "metadata": {"tags": ["remove-input"]}}]
    index, text = questions_section(cells)
    assert index == 1 and [m.group("body").strip() for m in DROPDOWN.finditer(text)] == ["Because.", "So.", "Indented."]
    assert SHOW_CODE_DEF.search("import inspect\ndef show_code(obj):\n    pass")
    assert not SHOW_CODE_DEF.search("from genai_foundations.display import show_code\nshow_code(f)")


def shown_record_results(cells: list[dict]) -> list[str]:
    """Ids of code cells whose last statement is a bare ``record_result(...)`` call: Jupyter would show the
    returned dict (name, value, machine, time) on the page, between a figure and its caption."""
    shown = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        body = ast.parse(_source(cell)).body
        last = body[-1] if body else None
        if (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)
                and getattr(last.value.func, "id", getattr(last.value.func, "attr", None)) == "record_result"):
            shown.append(cell.get("id", "?"))  # IPython 9 does not honour a trailing ";" after a multi-line call
    return shown


@pytest.mark.parametrize("chapter", CHAPTERS, ids=_ids)
def test_recorded_results_are_not_displayed(chapter):
    shown = shown_record_results(_cells(chapter))
    assert not shown, (f"{chapter}: cells {', '.join(shown)} end with record_result(...), whose returned dict "
                       "appears on the page between a figure and its caption; write `_ = record_result(...)`")


def test_the_record_result_check_finds_a_bare_call():
    cells = [{"cell_type": "code", "id": "a", "source": "x = 1\nrecord_result('c', 'n', x, 'u', quick=True)"},
             {"cell_type": "code", "id": "b", "source": "_ = record_result('c', 'n', 1, 'u', quick=True)"},
             {"cell_type": "markdown", "id": "c", "source": "record_result(...)"}]
    assert shown_record_results(cells) == ["a"]
