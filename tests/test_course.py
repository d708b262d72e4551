"""The instructor's grading command on a small synthetic assignment with misbehaving submissions.

Each bad submission must cost only what it affects, say why in its
feedback, and leave the gradebook consistent; the batch goes on.
"""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
from pathlib import Path

import nbformat
import pytest

from genai_foundations.course import CourseError, PROBLEM_FILE, grade, grade_submission, main, release

ROOT = Path(__file__).resolve().parent.parent

REFERENCE_MODULE = '''
from genai_foundations.grading import reference

@reference
def double(x):
    return 2 * x
'''


def _cell(source: str, **nbgrader) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"schema_version": 3, "task": False, **nbgrader}
    return cell


def _solution_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Toy exercise"),
        _cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
              grade=False, solution=True, locked=False, grade_id="double"),
        _cell("assert double(2) == 4\n### BEGIN HIDDEN TESTS\nfrom genai_foundations.grading import Case, check_function\n"
              "import toy_reference\ncheck_function(double, toy_reference.double, [Case(3), Case(-1.5)])\n### END HIDDEN TESTS",
              grade=True, solution=False, locked=True, points=2, grade_id="test_double"),
        _cell("def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
              grade=False, solution=True, locked=False, grade_id="square"),
        _cell("assert square(3) == 9", grade=True, solution=False, locked=True, points=3, grade_id="test_square"),
    ]
    return nb


def _fill(release_nb: dict, double: str, square: str) -> dict:
    nb = json.loads(json.dumps(release_nb))
    nb["cells"][1]["source"] = double
    nb["cells"][3]["source"] = square
    return nb


@pytest.fixture
def course(tmp_path, monkeypatch):
    root = tmp_path / "course"
    (root / "solutions" / "toy").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", root)
    nbformat.write(_solution_notebook(), root / "solutions" / "toy" / "toy.ipynb")
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "toy_reference.py").write_text(REFERENCE_MODULE)
    monkeypatch.setenv("PYTHONPATH", str(lib))
    monkeypatch.setenv("GENAI_CELL_TIMEOUT", "8")
    release(root)
    return root


def _submit(root: Path, student: str, notebook: dict | str | None) -> None:
    folder = root / "submitted" / student / "toy"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*"):
        old.unlink()
    if isinstance(notebook, dict):
        (folder / "toy.ipynb").write_text(json.dumps(notebook))
    elif isinstance(notebook, str):
        (folder / "toy.ipynb").write_text(notebook)
    else:
        (folder / "notes.txt").write_text("forgot the notebook")


def _scores(root: Path) -> dict[str, float]:
    with (root / "grades.csv").open(newline="") as handle:
        return {row["student_id"]: float(row["score"]) for row in csv.DictReader(handle)}


def test_bad_submissions_cost_only_what_they_affect(course):
    released = json.loads((course / "exercises" / "toy" / "toy.ipynb").read_text())
    good_double = "def double(x):\n    return x + x"
    good_square = "def square(x):\n    return x ** 2"
    _submit(course, "good", _fill(released, good_double, good_square))
    _submit(course, "untouched", released)
    _submit(course, "cheater", _fill(released, "import toy_reference\ndef double(x):\n    return toy_reference.double(x)",
                                     good_square))
    _submit(course, "looper", _fill(released, "def double(x):\n    while True:\n        pass", good_square))
    _submit(course, "crasher", _fill(released, good_double, "raise ValueError('oops')\ndef square(x):\n    return x * x"))
    _submit(course, "missing", None)
    _submit(course, "broken", "{this is not json")

    outcomes = {o.student: o for o in grade(course, quiet=True)}
    assert _scores(course) == {"good": 5, "untouched": 0, "cheater": 3, "looper": 3, "crasher": 2,
                               "missing": 0, "broken": 0}
    assert outcomes["missing"].status == "missing notebook"
    assert outcomes["broken"].status == "grading failed"
    assert "JSON" in outcomes["broken"].headline()
    for student in ("missing", "broken"):
        assert (course / "feedback" / student / "toy" / PROBLEM_FILE).exists()
    for student in ("good", "cheater", "looper", "crasher"):
        assert (course / "feedback" / student / "toy" / "toy.html").exists()
    feedback = (course / "feedback" / "cheater" / "toy" / "toy.html").read_text()
    assert "called the reference solution" in feedback
    assert "ValueError" in (course / "feedback" / "crasher" / "toy" / "toy.html").read_text()

    # A failed re-grade restores the gradebook, then records that submission alone as 0.
    _submit(course, "good", "{still not json")
    before = sqlite3.connect(course / "gradebook.db").execute("select count(*) from submitted_assignment").fetchone()
    outcome = grade_submission(course, "good", "toy")
    assert outcome.status == "grading failed"
    after = sqlite3.connect(course / "gradebook.db").execute("select count(*) from submitted_assignment").fetchone()
    assert before == after
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assert gb.find_submission("toy", "good").score == 0
        assert gb.find_submission("toy", "cheater").score == 3


def test_clear_errors_for_a_wrong_folder(tmp_path, capsys):
    with pytest.raises(CourseError, match="not a course folder"):
        release(tmp_path)
    assert main(["--root", str(tmp_path), "release"]) == 2
    assert "expected nbgrader_config.py" in capsys.readouterr().err


def test_unknown_assignment_is_reported(course):
    with pytest.raises(CourseError, match="unknown assignment"):
        release(course, ["nope"])
