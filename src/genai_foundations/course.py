"""Instructor tools: release the exercises and autograde submissions with nbgrader.

Run from the repository root (the folder holding ``nbgrader_config.py``)::

    python -m genai_foundations.course release            # solutions/ -> exercises/
    python -m genai_foundations.course grade              # submitted/ -> gradebook, grades.csv, feedback/
    python -m genai_foundations.course grade --db-url postgresql://...  # any SQLAlchemy URL

``grade`` autogrades every ``submitted/<student>/<assignment>/`` folder, one
submission at a time, so that one bad submission cannot stop the batch:

* a notebook that raises, or a cell that runs past the per-cell timeout
  (``GENAI_CELL_TIMEOUT``, default 120 s), costs only the tests it affects;
  nbgrader's feedback shows the error in place;
* a submission that lacks the notebook, or that nbgrader cannot grade at
  all (for example a file that is not valid notebook JSON), is recorded with
  score 0 and a ``grading-problem.html`` in its feedback folder saying why;
* the gradebook is never left half-written: before each submission a SQLite
  gradebook is copied aside and restored if grading fails; with another
  database the partial submission is removed. Either way the failed
  submission is then recorded as an empty (score 0) submission.

Finally it writes feedback for every graded submission and exports a CSV of
grades (``grades.csv`` by default).
"""

from __future__ import annotations

import argparse
import csv
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

SOURCE_DIR = "solutions"
RELEASE_DIR = "exercises"
SUBMITTED_DIR = "submitted"
FEEDBACK_DIR = "feedback"
PROBLEM_FILE = "grading-problem.html"


class CourseError(RuntimeError):
    """A problem with the course folder that the instructor must fix (says what was expected)."""


@dataclass
class Outcome:
    """What happened to one submission."""

    student: str
    assignment: str
    status: str  # "graded", "missing notebook", "grading failed", "unknown assignment"
    detail: str = ""

    def headline(self) -> str:
        """The most telling line of ``detail`` (the exception, if there is one)."""
        lines = self.detail.splitlines()
        exceptions = [line for line in lines if re.match(r"^[\w.]*(Error|Exception)\b", line)]
        return (exceptions or lines or [""])[-1]


def _env() -> dict[str, str]:
    """Environment for nbgrader subprocesses: this interpreter's scripts first on PATH.

    nbgrader runs ``alembic`` (and the kernel) by name, so the virtual
    environment's ``bin`` folder must be on PATH even when it is not activated.
    """
    env = dict(os.environ)
    scripts = str(Path(sys.executable).parent)
    env["PATH"] = scripts + os.pathsep + env.get("PATH", "")
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


def nbgrader(root: Path, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run ``nbgrader <args>`` in the course folder ``root`` and capture its output."""
    command = [sys.executable, "-m", "nbgrader", *args]
    return subprocess.run(command, cwd=root, env=_env(), capture_output=True, text=True, timeout=timeout)


def course_root(path: str | os.PathLike | None = None) -> Path:
    """The course folder: it must hold ``nbgrader_config.py`` and ``solutions/``."""
    root = Path(path or os.getcwd()).resolve()
    if not (root / "nbgrader_config.py").exists() or not (root / SOURCE_DIR).is_dir():
        raise CourseError(f"{root} is not a course folder: expected nbgrader_config.py and a {SOURCE_DIR}/ folder there")
    return root


def assignments(root: Path) -> list[str]:
    """Assignment names: the folders of ``solutions/`` that hold a notebook."""
    return sorted(p.name for p in (root / SOURCE_DIR).iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def _db_args(db_url: str | None) -> list[str]:
    return [f"--CourseDirectory.db_url={db_url}"] if db_url else []


def release(root: Path, names: list[str] | None = None, db_url: str | None = None,
            release_dir: str | None = None) -> list[str]:
    """Generate the student versions (``exercises/``) from ``solutions/`` with nbgrader.

    This also records each assignment, with its hidden tests, in the gradebook.
    ``release_dir`` writes the student versions elsewhere (used by ``grade``
    and by the tests, which must not touch the committed ``exercises/``).
    """
    root = course_root(root)
    known = assignments(root)
    names = names or known
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise CourseError(f"unknown assignment(s) {unknown}; expected some of {known}")
    extra = [f"--CourseDirectory.release_directory={release_dir}"] if release_dir else []
    for name in names:
        result = nbgrader(root, "generate_assignment", name, "--force", *_db_args(db_url), *extra)
        if result.returncode != 0:
            raise CourseError(f"nbgrader could not generate assignment {name!r}:\n{_error_summary(result.stdout + result.stderr)}")
    return names


def _gradebook(root: Path, db_url: str | None):
    from nbgrader.api import Gradebook

    return Gradebook(db_url or f"sqlite:///{root / 'gradebook.db'}")


def _sqlite_path(root: Path, db_url: str | None) -> Path | None:
    url = db_url or f"sqlite:///{root / 'gradebook.db'}"
    if not url.startswith("sqlite:///"):
        return None
    return Path(url[len("sqlite:///"):])


def _record_zero(root: Path, db_url: str | None, assignment: str, student: str) -> None:
    """Replace whatever the gradebook holds for this submission by an empty one (score 0)."""
    import warnings

    from nbgrader.api import MissingEntry

    with _gradebook(root, db_url) as gb, warnings.catch_warnings():
        # nbgrader 0.9 triggers harmless SQLAlchemy 2 "not in session" warnings here
        warnings.simplefilter("ignore")
        try:
            gb.remove_submission(assignment, student)
        except MissingEntry:
            pass
        gb.update_or_create_student(student)
        gb.add_submission(assignment, student)


def _write_problem(root: Path, student: str, assignment: str, reason: str) -> Path:
    folder = root / FEEDBACK_DIR / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / PROBLEM_FILE
    path.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Grading problem</title></head><body>"
        f"<h1>{html.escape(assignment)}: this submission could not be graded</h1>"
        "<p>It was recorded with score 0 for everything it affects. The reason:</p>"
        f"<pre>{html.escape(reason)}</pre></body></html>\n",
        encoding="utf-8",
    )
    return path


class _GradebookSnapshot:
    """Copy a SQLite gradebook aside and put it back if the work inside the block fails.

    For other databases nothing is copied; :func:`_record_zero` then replaces
    a failed submission's partial rows by an empty submission.
    """

    def __init__(self, root: Path, db_url: str | None):
        self.sqlite = _sqlite_path(root, db_url)
        self.backup: Path | None = None

    def __enter__(self) -> "_GradebookSnapshot":
        if self.sqlite is not None and self.sqlite.exists():
            handle, name = tempfile.mkstemp(suffix=".db", prefix="gradebook-backup-")
            os.close(handle)
            self.backup = Path(name)
            shutil.copy2(self.sqlite, self.backup)
        return self

    def restore(self) -> None:
        if self.backup is not None and self.sqlite is not None:
            shutil.copy2(self.backup, self.sqlite)
            Path(f"{self.sqlite}-journal").unlink(missing_ok=True)

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:  # an exception or Ctrl-C: leave the gradebook as it was
            self.restore()
        if self.backup is not None:
            self.backup.unlink(missing_ok=True)


def _error_summary(log: str) -> str:
    """The lines of an nbgrader log that say what went wrong, most specific last."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line.split(":")[0] or line.startswith("[") and "ERROR" in line]
    return "\n".join((errors or lines)[-12:])


def _autograde(root: Path, assignment: str, db_url: str | None, timeout: float,
               student: str | None = None, exclude: list[str] | None = None) -> tuple[bool, str]:
    """Run nbgrader autograde (one student, or all but ``exclude``); return (ok, log)."""
    args = ["autograde", assignment, "--create", "--force", *_db_args(db_url)]
    if student is not None:
        args += ["--student", student]
    if exclude:
        args.append(f"--CourseDirectory.student_id_exclude={','.join(exclude)}")
    try:
        result = nbgrader(root, *args, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        return False, f"grading took longer than {timeout:.0f} s and was stopped\n{err.stdout or ''}"
    return result.returncode == 0, result.stdout + result.stderr


def _notebooks(root: Path, student: str, assignment: str) -> tuple[list[str], list[str]]:
    expected = sorted(p.name for p in (root / SOURCE_DIR / assignment).glob("*.ipynb"))
    present = sorted(p.name for p in (root / SUBMITTED_DIR / student / assignment).glob("*.ipynb"))
    return expected, present


def _graded_outcome(root: Path, student: str, assignment: str) -> Outcome:
    expected, present = _notebooks(root, student, assignment)
    missing = sorted(set(expected) - set(present))
    if missing:
        detail = f"missing notebook(s) {', '.join(missing)}: scored 0"
        _write_problem(root, student, assignment, detail)
        return Outcome(student, assignment, "graded", detail)
    return Outcome(student, assignment, "graded")


def _record_missing(root: Path, student: str, assignment: str, db_url: str | None) -> Outcome:
    expected, present = _notebooks(root, student, assignment)
    folder = Path(SUBMITTED_DIR) / student / assignment
    reason = f"expected {', '.join(expected)} in {folder}, found " + (", ".join(present) if present else "no notebook")
    _record_zero(root, db_url, assignment, student)
    _write_problem(root, student, assignment, reason)
    return Outcome(student, assignment, "missing notebook", reason)


def grade_submission(root: Path, student: str, assignment: str, db_url: str | None = None,
                     timeout: float = 1800.0) -> Outcome:
    """Autograde one submission on its own, never leaving the gradebook half-written."""
    (root / FEEDBACK_DIR / student / assignment / PROBLEM_FILE).unlink(missing_ok=True)
    expected, present = _notebooks(root, student, assignment)
    if not set(expected) & set(present):
        return _record_missing(root, student, assignment, db_url)
    with _GradebookSnapshot(root, db_url) as snapshot:
        ok, log = _autograde(root, assignment, db_url, timeout, student=student)
        if not ok:
            snapshot.restore()
    if not ok:
        reason = _error_summary(log)
        _record_zero(root, db_url, assignment, student)
        _write_problem(root, student, assignment, reason)
        return Outcome(student, assignment, "grading failed", reason)
    return _graded_outcome(root, student, assignment)


def grade_assignment(root: Path, assignment: str, students: list[str], db_url: str | None = None,
                     timeout: float = 1800.0) -> list[Outcome]:
    """Autograde every listed student's submission of one assignment.

    The fast path grades them all in one nbgrader run. If that run fails
    (some submission cannot be graded), the gradebook is restored and each
    submission is graded on its own, so that only the broken ones get 0.
    """
    outcomes, gradable = [], []
    for student in students:
        (root / FEEDBACK_DIR / student / assignment / PROBLEM_FILE).unlink(missing_ok=True)
        expected, present = _notebooks(root, student, assignment)
        if set(expected) & set(present):
            gradable.append(student)
        else:
            outcomes.append(_record_missing(root, student, assignment, db_url))
    if gradable:
        others = [p.name for p in (root / SUBMITTED_DIR).iterdir() if p.is_dir() and p.name not in gradable]
        with _GradebookSnapshot(root, db_url) as snapshot:
            ok, _ = _autograde(root, assignment, db_url, timeout * len(gradable), exclude=others)
            if not ok:
                snapshot.restore()
        if ok:
            outcomes += [_graded_outcome(root, student, assignment) for student in gradable]
        else:
            outcomes += [grade_submission(root, student, assignment, db_url, timeout) for student in gradable]
    return sorted(outcomes, key=lambda o: o.student)


def grade(root: Path, db_url: str | None = None, csv_path: str | os.PathLike = "grades.csv",
          timeout: float = 1800.0, quiet: bool = False) -> list[Outcome]:
    """Autograde every submission, generate feedback and export the grades to CSV."""
    root = course_root(root)
    known = assignments(root)
    submitted = root / SUBMITTED_DIR
    if not submitted.is_dir():
        raise CourseError(f"no {SUBMITTED_DIR}/ folder in {root}: put submissions in {SUBMITTED_DIR}/<student>/<assignment>/")
    with tempfile.TemporaryDirectory(prefix="genai-release-") as scratch:
        release(root, known, db_url=db_url, release_dir=scratch)  # the gradebook learns every hidden test
    by_assignment: dict[str, list[str]] = {}
    outcomes: list[Outcome] = []
    for student_dir in sorted(p for p in submitted.iterdir() if p.is_dir()):
        for assignment_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            if assignment_dir.name in known:
                by_assignment.setdefault(assignment_dir.name, []).append(student_dir.name)
            else:
                outcomes.append(Outcome(student_dir.name, assignment_dir.name, "unknown assignment",
                                        f"expected one of {known}"))
    for assignment, students in sorted(by_assignment.items()):
        outcomes += grade_assignment(root, assignment, students, db_url, timeout)
    if not quiet:
        for o in outcomes:
            print(f"{o.student:>20}  {o.assignment:<24} {o.status:<18} {o.headline()}")
    for name in sorted({o.assignment for o in outcomes if o.status == "graded"}):
        result = nbgrader(root, "generate_feedback", name, "--force", *_db_args(db_url))
        if result.returncode != 0:
            raise CourseError(f"nbgrader could not generate feedback for {name!r}:\n{_error_summary(result.stdout + result.stderr)}")
    csv_path = Path(csv_path)
    if not csv_path.is_absolute():
        csv_path = root / csv_path
    result = nbgrader(root, "export", f"--to={csv_path}", *_db_args(db_url))
    if result.returncode != 0:
        raise CourseError(f"nbgrader could not export grades:\n{_error_summary(result.stdout + result.stderr)}")
    report = csv_path.with_name(csv_path.stem + "-report.csv")
    with report.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "assignment", "status", "detail"])
        for o in outcomes:
            writer.writerow([o.student, o.assignment, o.status, o.headline()])
    if not quiet:
        print(f"grades: {csv_path}\nper-submission report: {report}\nfeedback: {root / FEEDBACK_DIR}")
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genai_foundations.course", description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=None, help="course folder (default: the current folder)")
    parser.add_argument("--db-url", default=os.environ.get("GENAI_GRADEBOOK_URL"),
                        help="SQLAlchemy URL of the gradebook (default: sqlite:///<root>/gradebook.db)")
    sub = parser.add_subparsers(dest="command", required=True)
    rel = sub.add_parser("release", help="regenerate exercises/ from solutions/")
    rel.add_argument("assignments", nargs="*", help="assignment names (default: all)")
    grd = sub.add_parser("grade", help="autograde submitted/, write feedback/ and export grades")
    grd.add_argument("--csv", default="grades.csv", help="where to write the grades (default: grades.csv)")
    grd.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed for one whole submission")
    args = parser.parse_args(argv)
    try:
        root = course_root(args.root)
        if args.command == "release":
            for name in release(root, args.assignments or None, db_url=args.db_url):
                print(f"released {name} -> {RELEASE_DIR}/{name}/")
        else:
            outcomes = grade(root, db_url=args.db_url, csv_path=args.csv, timeout=args.timeout)
            if not outcomes:
                print(f"no submissions found under {root / SUBMITTED_DIR}")
    except CourseError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
