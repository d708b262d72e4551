"""``course check``: run a student's notebook the way the grader will, and say what would lose points.

It executes the notebook in a fresh kernel with the grader's limits (in the
sandbox where this machine can run it; elsewhere, e.g. on macOS or without
root, without it, and it says so), runs the visible tests, and reports what
would cost points for reasons other than correctness: a cell that times out,
output over the limit, a forbidden call spelled in the code, a cell that
raises. It cannot run the hidden tests: their inputs are drawn by the
grader from a secret.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from genai_grading import sandbox
from genai_grading.execute import execute_notebook
from genai_grading.grader import RELEASE_DIR, course_root
from genai_grading.sandbox import Limits
from genai_grading.scan import defining_code, find_forbidden
from genai_grading.submissions import Refused, build_graded_notebook, parse_notebook, student_code
from genai_grading.tasks import load_tasks


def check_notebook(path: str, root: str | None = None) -> int:
    notebook = Path(path)
    assignment = notebook.stem
    course = course_root(root or _guess_root(notebook))
    release_nb = course / RELEASE_DIR / assignment / f"{assignment}.ipynb"
    if not release_nb.exists():
        print(f"error: {notebook} is not one of the course's exercises (expected {release_nb} to exist)")
        return 2
    try:
        submitted = parse_notebook(notebook.read_bytes())
    except Refused as err:
        print(f"this notebook would be refused by the grader: {err}")
        return 1
    source = nbformat.read(release_nb, as_version=4)
    graded = build_graded_notebook(source, submitted)
    limits = Limits.from_env()
    use_sandbox = sandbox.available()
    if not use_sandbox:
        print("note: this machine cannot run the grading sandbox (it needs Linux, root, bubblewrap and cgroups); "
              "the check runs your notebook without it, with the same time and output limits.")
    run = execute_notebook(graded, assignment=assignment, requests={}, limits=limits, use_sandbox=use_sandbox)
    problems = []
    for index, cell in enumerate(run["notebook"].cells):
        meta = cell.metadata.get("nbgrader", {})
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                where = f"test cell {meta.get('grade_id')}" if meta.get("grade") else f"cell {index}"
                problems.append(f"{where} raised {out.get('ename')}: {str(out.get('evalue'))[:200]}")
    if run["timed_out"] or run["kernel_died"]:
        problems.append(run["error"])
    if run["truncated"]:
        problems.append(f"output beyond {limits.output_bytes // 2**20} MiB would not be kept")
    cells = student_code(submitted, source)
    try:
        tasks = load_tasks(assignment)
    except LookupError:
        tasks = []
    for task in tasks:
        found = find_forbidden(defining_code(cells, task.function), task.forbidden)
        if found:
            problems.append(f"{task.function} uses {', '.join(found)}, which the task forbids (0 points for it)")
    from genai_grading.bridge import answer_cells
    from genai_grading.tasks import forbidden_by_cell

    answers = answer_cells(source)
    for test_id, names in forbidden_by_cell(assignment).items():
        code = "\n\n".join([cells.get(a, "") for a in answers.get(test_id, [])]
                           + [c for k, c in cells.items() if k.startswith("added-")])
        found = find_forbidden(code, names)
        if found:
            problems.append(f"the answer tested by {test_id} uses {', '.join(found)}, which that task forbids "
                            "(0 points for it)")
    if problems:
        print("These would lose points:")
        for p in problems:
            print(f"  - {p}")
        return 1
    print("All visible tests pass and nothing else would lose points. The hidden tests run only at grading time.")
    return 0


def _guess_root(notebook: Path) -> Path:
    for folder in notebook.resolve().parents:
        if (folder / "nbgrader_config.py").exists():
            return folder
    return Path.cwd()
