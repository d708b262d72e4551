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


def load_shortcuts(assignment: str):
    """The exercise's shortcut answers (tests/grading/shortcuts/<slug>.py), or None."""
    import importlib.util

    path = ROOT / "tests" / "grading" / "shortcuts" / f"{assignment.replace('-', '_')}.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(f"shortcuts_{assignment.replace('-', '_')}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def task_scores(root: Path, assignment: str, student: str) -> dict[str, float]:
    """grade_id -> score of one graded submission, read from the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        submission = gb.find_submission(assignment, student)
        return {g.cell.name: g.score for nb in submission.notebooks for g in nb.grades}


def read_grades(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def test_every_chapter_has_an_exercise():
    from notebook_pipeline import chapter_notebooks

    slugs = {p.stem for p in chapter_notebooks()}
    assert slugs and slugs <= set(ASSIGNMENTS), f"chapters without an exercise: {sorted(slugs - set(ASSIGNMENTS))}"


def test_every_exercise_has_its_shortcut_answers():
    """Each exercise's shortcut answers are found (a file named with '-' instead of '_' would be skipped)."""
    folder = ROOT / "tests" / "grading" / "shortcuts"
    missing = [a for a in ASSIGNMENTS if load_shortcuts(a) is None]
    assert not missing, f"no tests/grading/shortcuts/<slug with _>.py for: {missing}"
    stray = sorted(p.name for p in folder.glob("*.py")
                   if p.stem != "__init__" and p.stem not in {a.replace("-", "_") for a in ASSIGNMENTS})
    assert not stray, f"shortcut files that match no exercise: {stray}"
    for assignment in ASSIGNMENTS:
        module = load_shortcuts(assignment)
        assert module.SHORTCUTS and set(module.EXPECTED_ZERO), f"{assignment}: empty SHORTCUTS or EXPECTED_ZERO"


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
        for secret in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "check_function", "grading_generator",
                       "grade_task"):
            assert secret not in text, f"the released {notebook.name} leaks {secret!r}"
        tasks = [c for c in json.loads(text)["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
        assert 3 <= len(tasks) <= 6, f"{assignment}: expected 3 to 6 graded tasks, found {len(tasks)}"

    for student, source in (("solution", root / "solutions" / assignment), ("untouched", fresh)):
        target = root / "submitted" / student / assignment
        target.mkdir(parents=True)
        for notebook in source.glob("*.ipynb"):
            shutil.copy(notebook, target)
    shortcuts = load_shortcuts(assignment)
    if shortcuts is not None:  # one submission carrying every shortcut answer of this exercise
        nb = json.loads((fresh / f"{assignment}.ipynb").read_text())
        for cell in nb["cells"]:
            gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
            if gid in shortcuts.SHORTCUTS:
                cell["source"] = shortcuts.SHORTCUTS[gid]
        target = root / "submitted" / "shortcuts" / assignment
        target.mkdir(parents=True)
        (target / f"{assignment}.ipynb").write_text(json.dumps(nb))
    outcomes = sorted(grade(root, quiet=True, workers=0), key=lambda o: o.student)
    if shortcuts is not None:
        shortcut_outcome = next(o for o in outcomes if o.student == "shortcuts")
        outcomes.remove(shortcut_outcome)
        scores = task_scores(root, assignment, "shortcuts")
        earned = {gid: scores[gid] for gid in shortcuts.EXPECTED_ZERO if scores[gid] != 0}
        assert not earned, f"shortcut answers earned points on {earned} ({shortcut_outcome.detail})"
    assert [(o.student, o.status) for o in outcomes] == [("solution", "graded"), ("untouched", "graded")]
    assert outcomes[0].detail == "", f"the solution lost points: {outcomes[0].detail}"
    assert "grader could not" not in outcomes[1].detail and "grader failed" not in outcomes[1].detail
    grades = read_grades(root / "grades.csv")
    assert float(grades["solution"]["max_score"]) > 0
    assert float(grades["solution"]["score"]) == float(grades["solution"]["max_score"]), "the solution lost points"
    assert float(grades["untouched"]["score"]) == 0.0, "an untouched exercise earned points"
    for student in ("solution", "untouched"):
        pages = list((root / "feedback" / student / assignment).glob("*.html"))
        assert pages, f"no feedback for {student}"
        for page in pages:  # feedback never shows hidden-test text
            text = page.read_text()
            for secret in ("check_function", "grading_generator", "grade_task(", "_reference"):
                assert secret not in text, f"{student}'s feedback shows hidden-test text {secret!r}"
