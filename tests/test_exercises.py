"""The nbgrader round trip for every exercise, in a temporary course folder.

For each assignment in solutions/:
* the committed exercises/ equal what `nbgrader generate_assignment` produces now;
* the released notebook leaks no solution and no hidden test;
* autograding the solution notebook gives full marks, and autograding the
  untouched release gives 0 without any grader error.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from genai_foundations.course import grade, release

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def make_course(tmp_path: Path, assignment: str) -> Path:
    root = tmp_path / "course"
    (root / "solutions").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", root)
    shutil.copytree(ROOT / "solutions" / assignment, root / "solutions" / assignment)
    return root


def read_grades(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def test_every_chapter_has_an_exercise():
    from notebook_pipeline import chapter_notebooks

    slugs = {p.stem for p in chapter_notebooks()}
    assert slugs and slugs <= set(ASSIGNMENTS), f"chapters without an exercise: {sorted(slugs - set(ASSIGNMENTS))}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_is_current_and_grades_round_trip(assignment, tmp_path):
    root = make_course(tmp_path, assignment)
    release(root, [assignment])
    fresh = root / "exercises" / assignment
    committed = ROOT / "exercises" / assignment
    assert committed.is_dir(), f"exercises/{assignment} is missing: run `make exercises`"
    assert sorted(p.name for p in fresh.iterdir()) == sorted(p.name for p in committed.iterdir())
    for notebook in fresh.glob("*.ipynb"):
        assert json.loads(notebook.read_text()) == json.loads((committed / notebook.name).read_text()), (
            f"exercises/{assignment}/{notebook.name} differs from a fresh nbgrader release: run `make exercises`"
        )
        text = notebook.read_text()
        for secret in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "check_function"):
            assert secret not in text, f"the released {notebook.name} leaks {secret!r}"
        tasks = [c for c in json.loads(text)["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
        assert 3 <= len(tasks) <= 6, f"{assignment}: expected 3 to 6 graded tasks, found {len(tasks)}"

    for student, source in (("solution", root / "solutions" / assignment), ("untouched", fresh)):
        target = root / "submitted" / student / assignment
        target.mkdir(parents=True)
        for notebook in source.glob("*.ipynb"):
            shutil.copy(notebook, target)
    outcomes = grade(root, quiet=True)
    assert [(o.student, o.status, o.detail) for o in outcomes] == [
        ("solution", "graded", ""), ("untouched", "graded", "")]
    grades = read_grades(root / "grades.csv")
    assert float(grades["solution"]["max_score"]) > 0
    assert float(grades["solution"]["score"]) == float(grades["solution"]["max_score"]), "the solution lost points"
    assert float(grades["untouched"]["score"]) == 0.0, "an untouched exercise earned points"
    for student in ("solution", "untouched"):
        assert list((root / "feedback" / student / assignment).glob("*.html")), f"no feedback for {student}"
