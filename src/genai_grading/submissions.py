"""What the grader accepts from a student, and the notebook it builds from it.

A submission is ``submitted/<student>/<assignment>/<assignment>.ipynb``.
Before anything parses it, :func:`inspect_submission` refuses what could
hurt the grader: symbolic links (an archive can carry one pointing at the
gradebook), device files, pipes and other non-regular files, names with
path separators or ``..``, a notebook larger than the limit, JSON nested
deeper than the limit. nbgrader never reads ``submitted/``: the grader
builds the notebook it executes from the *source* notebook, taking from the
student only the source code of the solution cells (by ``grade_id``) and
any cells the student added; every locked cell, test cell and markdown cell
comes from ``solutions/``. Deleting, editing or inflating a test cell
therefore changes nothing.
"""

from __future__ import annotations

import copy
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import nbformat

NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}$")
MAX_NOTEBOOK_BYTES = 20 * 2**20
MAX_JSON_DEPTH = 64
MAX_CELLS = 2000


class Refused(Exception):
    """A submission the grader will not read; the message says why (shown to the student)."""


def check_name(name: str, what: str) -> None:
    if not NAME.match(name) or ".." in name:
        raise Refused(f"the {what} name {name!r} is not allowed: use letters, digits, '_', '-' and '.' only "
                      "(no path separators, no '..', at most 64 characters)")


def _json_depth(text: str) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


@dataclass
class Submission:
    student: str
    assignment: str
    path: Path          # the notebook file
    data: bytes         # its bytes, read once


def inspect_submission(folder: Path, student: str, assignment: str, notebook_name: str) -> Submission:
    """Check ``folder`` (``submitted/<student>/<assignment>``) and read the notebook; raise :class:`Refused`."""
    check_name(student, "student")
    check_name(assignment, "assignment")
    for path in (folder.parent, folder):
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
            raise Refused(f"{path.name} must be a plain folder (it is a link or a special file)")
    problems = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        for name in dirs + files:
            full = Path(root) / name
            info = os.lstat(full)
            rel = full.relative_to(folder)
            if stat.S_ISLNK(info.st_mode):
                problems.append(f"{rel} is a symbolic link")
            elif not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
                problems.append(f"{rel} is not a regular file (device, pipe or socket)")
            elif not NAME.match(name):
                problems.append(f"{rel}: file names may only use letters, digits, '_', '-' and '.'")
    if problems:
        raise Refused("the submission holds files the grader does not accept: " + "; ".join(problems[:5])
                      + ". Hand in the notebook as a plain file.")
    path = folder / notebook_name
    if not path.exists():
        found = sorted(p.name for p in folder.glob("*.ipynb"))
        raise Refused(f"expected {notebook_name} in the submission, found " + (", ".join(found) or "no notebook"))
    size = os.lstat(path).st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise Refused(f"{notebook_name} is {size / 2**20:.1f} MiB; at most {MAX_NOTEBOOK_BYTES // 2**20} MiB are "
                      "accepted (clear the outputs before handing in)")
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(MAX_NOTEBOOK_BYTES + 1)
    return Submission(student, assignment, path, data)


def parse_notebook(data: bytes) -> nbformat.NotebookNode:
    """Parse a submitted notebook defensively; raise :class:`Refused` with the reason."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("the notebook is not UTF-8 text") from None
    if _json_depth(text) > MAX_JSON_DEPTH:
        raise Refused(f"the notebook's JSON is nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise Refused(f"the notebook is not valid JSON: {err}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        raise Refused("the file is not a Jupyter notebook (no list of cells)")
    if len(raw["cells"]) > MAX_CELLS:
        raise Refused(f"the notebook has {len(raw['cells'])} cells; at most {MAX_CELLS} are accepted")
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as err:
        raise Refused(f"the notebook cannot be read as nbformat 4: {type(err).__name__}: {str(err)[:200]}") from None


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def student_code(nb: nbformat.NotebookNode, source: nbformat.NotebookNode) -> dict[str, str]:
    """The student's solution cells by grade_id (first one wins) and added code cells (``added-N``)."""
    solution_ids = {c.metadata.get("nbgrader", {}).get("grade_id") for c in source.cells
                    if c.metadata.get("nbgrader", {}).get("solution")}
    known_ids = {c.metadata.get("nbgrader", {}).get("grade_id") for c in source.cells}
    code: dict[str, str] = {}
    added = 0
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in solution_ids:
            code.setdefault(grade_id, _source(cell))
        elif grade_id not in known_ids:
            code[f"added-{added}"] = _source(cell)
            added += 1
    return code


def build_graded_notebook(source: nbformat.NotebookNode, submitted: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook the grader executes: ``source``'s cells, with the student's code in the solution cells.

    Cells the student added (code without nbgrader metadata, or with an id
    the source does not have) are kept at their place, after the nearest
    preceding cell the source knows; they cannot carry points.
    """
    source_ids = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in source.cells
                  if c.metadata.get("nbgrader", {}).get("grade_id")}
    solution = {gid for gid, c in source_ids.items() if c.metadata["nbgrader"].get("solution")}
    theirs: dict[str, str] = {}
    extra_after: dict[str | None, list] = {}
    anchor = None
    for cell in submitted.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in source_ids:
            if gid in solution and cell.get("cell_type") == source_ids[gid].cell_type:
                theirs.setdefault(gid, _source(cell))
            anchor = gid
        elif cell.get("cell_type") in ("code", "markdown"):
            new = (nbformat.v4.new_code_cell(_source(cell)) if cell.get("cell_type") == "code"
                   else nbformat.v4.new_markdown_cell(_source(cell)))
            new.metadata["genai_grading"] = {"added_by_student": True}
            extra_after.setdefault(anchor, []).append(new)
    graded = copy.deepcopy(source)
    cells = list(extra_after.get(None, []))
    for cell in graded.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in theirs:
            cell.source = theirs[gid]
        elif gid in solution:  # never run the model answer in place of a missing one
            cell.source = "# this solution cell is missing from the submission\nraise NotImplementedError()"
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            if "### BEGIN HIDDEN TESTS" in cell.source and "grade_task(" not in cell.source:
                # hidden tests written as code run in the grader's process, never in the kernel
                head, _, rest = cell.source.partition("### BEGIN HIDDEN TESTS")
                cell.source = head + "# (the hidden tests run in the grader, outside this notebook)" + \
                    rest.partition("### END HIDDEN TESTS")[2]
        cells.append(cell)
        cells.extend(extra_after.get(gid, []) if gid else [])
    graded.cells = cells
    graded.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return graded
