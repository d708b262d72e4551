"""The instructor's ``grade`` command: every submission, sandboxed, in parallel, resumable.

One process (this one) owns the course folder and the gradebook. For each
``submitted/<student>/<assignment>/`` it

1. refuses what it will not read (:mod:`~genai_grading.submissions`) and
   builds the notebook to execute from the source notebook and the
   student's solution cells;
2. computes the submission's key: one hash of the notebook file, the
   assignment's tests, the package version and the limits. A submission
   whose key is recorded as graded is skipped, so re-running after an
   interruption resumes where it stopped and ends with the same gradebook;
3. derives each task's input seed from the instructor's secret and the
   notebook's hash (HMAC-SHA256), so inputs differ per submission, cannot be
   known in advance, and are the same when the same file is graded again;
4. sends the job to a worker (a Dask cluster: local processes by default, or
   ``--scheduler tcp://host:8786``); the worker runs the notebook in the
   sandbox and judges the outputs against the reference outside it;
5. writes the result: gradebook rows (only here, one submission per
   transaction), the autograded notebook (hidden tests never appear in it),
   the instructor's evidence record, then the key.

At the end it runs nbgrader's ``generate_feedback`` and ``export`` and
writes ``grades-report.csv`` and ``similarity-report.csv``.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import html
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import nbformat

from genai_grading import sandbox, similarity, stubs
from genai_grading.sandbox import Limits
from genai_grading.submissions import NAME, Refused, build_graded_notebook, inspect_submission, parse_notebook, student_code
from genai_grading.tasks import load_tasks, module_name

SOURCE_DIR = "solutions"
RELEASE_DIR = "exercises"
SUBMITTED_DIR = "submitted"
AUTOGRADED_DIR = "autograded"
FEEDBACK_DIR = "feedback"
EVIDENCE_DIR = "grading-evidence"
PROBLEM_FILE = "grading-problem.html"
LEDGER_FILE = ".genai-grading.json"
SECRET_FILE = ".grading-secret"
SECRET_ENV = "GENAI_GRADING_SECRET"


class CourseError(RuntimeError):
    """A problem with the course folder or the set-up that the instructor must fix (says what was expected)."""


@dataclass
class Outcome:
    """What happened to one submission."""

    student: str
    assignment: str
    status: str  # graded, unchanged, refused, missing notebook, grading failed, unknown assignment
    detail: str = ""
    score: float = 0.0
    max_score: float = 0.0
    seconds: float = 0.0
    tasks: dict[str, str] = field(default_factory=dict)

    def headline(self) -> str:
        return (self.detail.splitlines() or [""])[0]


# ---------------------------------------------------------------- helpers
def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


def nbgrader(root: Path, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run ``nbgrader <args>`` in the course folder (trusted: it only reads what this process wrote)."""
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=_env(), capture_output=True,
                          text=True, timeout=timeout)


def _error_summary(log: str) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line.split(":")[0] or "ERROR" in line]
    return "\n".join((errors or lines)[-12:])


def course_root(path: str | os.PathLike | None = None) -> Path:
    root = Path(path or os.getcwd()).resolve()
    if not (root / "nbgrader_config.py").exists() or not (root / SOURCE_DIR).is_dir():
        raise CourseError(f"{root} is not a course folder: expected nbgrader_config.py and a {SOURCE_DIR}/ folder there")
    return root


def assignments(root: Path) -> list[str]:
    return sorted(p.name for p in (root / SOURCE_DIR).iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def _db_args(db_url: str | None) -> list[str]:
    return [f"--CourseDirectory.db_url={db_url}"] if db_url else []


def release(root: Path, names: list[str] | None = None, db_url: str | None = None,
            release_dir: str | None = None) -> list[str]:
    """Generate the student versions from ``solutions/`` with nbgrader (records the assignments too)."""
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


def grading_secret(root: Path) -> bytes:
    """The instructor's secret: ``$GENAI_GRADING_SECRET``, else ``<course>/.grading-secret`` (made once, mode 600)."""
    if os.environ.get(SECRET_ENV):
        return os.environ[SECRET_ENV].encode()
    path = root / SECRET_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def task_seed(secret: bytes, assignment: str, grade_id: str, notebook_hash: str) -> int:
    """HMAC-SHA256(secret, assignment | task | submission hash) as a 63-bit integer."""
    mac = hmac.new(secret, f"{assignment}|{grade_id}|{notebook_hash}".encode(), hashlib.sha256).digest()
    return int.from_bytes(mac[:8], "big") >> 1


def tests_hash(root: Path, assignment: str) -> str:
    """A hash of what decides the assignment's grades: its source notebook and its task module."""
    digest = hashlib.sha256()
    for nb in sorted((root / SOURCE_DIR / assignment).glob("*.ipynb")):
        digest.update(nb.read_bytes())
    from genai_grading.tasks import _import

    from genai_grading.tasks import assignment_module

    module = assignment_module(assignment)
    if module is not None and getattr(module, "__file__", None):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def _has_tasks(assignment: str) -> bool:
    try:
        load_tasks(assignment)
    except LookupError:
        return False
    return True


def submission_key(notebook: bytes, tests: str, package: str, limits: Limits) -> str:
    parts = [hashlib.sha256(notebook).hexdigest(), tests, package, json.dumps(limits.as_dict(), sort_keys=True)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _write_problem(root: Path, student: str, assignment: str, reason: str) -> None:
    folder = root / FEEDBACK_DIR / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PROBLEM_FILE).write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Grading problem</title></head><body>"
        f"<h1>{html.escape(assignment)}: this submission could not be graded</h1>"
        "<p>It was recorded with score 0. The reason:</p>"
        f"<pre>{html.escape(reason)}</pre></body></html>\n", encoding="utf-8")


def _atomic_write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    tmp.replace(path)


# ---------------------------------------------------------------- gradebook (this process only)
def record_scores(root: Path, db_url: str | None, assignment: str, student: str, scores: dict[str, float]) -> None:
    """Replace the submission's rows by ``scores`` (grade_id -> points); missing ids score 0."""
    import warnings

    from nbgrader.api import MissingEntry

    with _gradebook(root, db_url) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            gb.remove_submission(assignment, student)
        except MissingEntry:
            pass
        gb.update_or_create_student(student)
        submission = gb.add_submission(assignment, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score = float(scores.get(grade.cell.name, 0.0))
                grade.manual_score = None
        gb.db.commit()


def grade_points(source: nbformat.NotebookNode) -> dict[str, float]:
    return {c.metadata["nbgrader"]["grade_id"]: float(c.metadata["nbgrader"].get("points", 0))
            for c in source.cells if c.metadata.get("nbgrader", {}).get("grade")}


# ---------------------------------------------------------------- execution back ends
class Executor:
    """Runs grade_job on workers: a Dask cluster (local by default) or, with ``workers=0``, in this process."""

    def __init__(self, workers: int | None, scheduler: str | None, threads: int):
        self.client = None
        self.cluster = None
        self.workers = workers
        if scheduler:
            from distributed import Client

            self.client = Client(scheduler)
        elif workers != 0:
            from distributed import Client, LocalCluster

            n = workers or os.cpu_count() or 1
            env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
            self.cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                        env=env, silence_logs=40)
            self.client = Client(self.cluster)

    def map(self, jobs: list[dict]) -> Iterable[tuple[dict, dict | None, str]]:
        """Yield (job, result or None, error) as jobs finish."""
        from genai_grading.execute import grade_job

        if self.client is None:
            for job in jobs:
                try:
                    yield job, grade_job(job), ""
                except Exception as err:
                    yield job, None, f"{type(err).__name__}: {err}"
            return
        from distributed import as_completed

        futures = {self.client.submit(grade_job, job, key=f"grade-{job['key'][:16]}-{job['student']}", pure=False,
                                      retries=2): job for job in jobs}
        for future in as_completed(futures):
            job = futures[future]
            try:
                yield job, future.result(), ""
            except Exception as err:
                yield job, None, f"{type(err).__name__}: {err}"

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


# ---------------------------------------------------------------- the command
def _autograded_notebook(result: dict, verdicts: dict[str, dict]) -> nbformat.NotebookNode:
    nb = nbformat.reads(result["notebook"], as_version=4)
    for cell in nb.cells:
        if "### BEGIN HIDDEN TESTS" in cell.source:  # the feedback shows no hidden-test text at all
            head, _, rest = cell.source.partition("### BEGIN HIDDEN TESTS")
            cell.source = head + "# (the hidden tests ran here; the grader's verdict is below)" + \
                rest.partition("### END HIDDEN TESTS")[2]
        if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code":
            for out in cell.outputs:  # a traceback through a test cell would quote the hidden lines
                if out.get("output_type") == "error":
                    out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in verdicts:
            v = verdicts[gid]
            text = ("grader: PASSED. " if v["passed"] else "grader: FAILED. ") + v["message"] + "\n"
            cell.outputs = [o for o in cell.outputs if o.get("output_type") != "display_data"]
            cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=text))
    if result["notes"]:
        nb.cells.insert(0, nbformat.v4.new_markdown_cell("**Grader notes:** " + "; ".join(result["notes"])))
    return nb


def grade(root: Path, db_url: str | None = None, csv_path: str | os.PathLike = "grades.csv", *,
          limits: Limits | None = None, workers: int | None = None, scheduler: str | None = None,
          unsafe_no_sandbox: bool = False, quiet: bool = False, progress: bool | None = None) -> list[Outcome]:
    """Grade every submission in ``submitted/`` (see the module docstring); return one outcome each."""
    root = course_root(root)
    limits = limits or Limits.from_env()
    if not unsafe_no_sandbox:
        try:
            sandbox.check()
        except sandbox.SandboxUnavailable as err:
            raise CourseError(f"grading refused: {err}. Students' code must not run with the grader's rights. "
                              "Fix the set-up (see the instructor guide), or pass --unsafe-no-sandbox to grade "
                              "without a sandbox on a machine you can throw away.") from None
        sandbox.remove_stale_cgroups()
    known = assignments(root)
    submitted = root / SUBMITTED_DIR
    if not submitted.is_dir():
        raise CourseError(f"no {SUBMITTED_DIR}/ folder in {root}: put submissions in {SUBMITTED_DIR}/<student>/<assignment>/")
    with tempfile.TemporaryDirectory(prefix="genai-release-") as scratch:
        release(root, known, db_url=db_url, release_dir=scratch)  # the gradebook learns every graded cell
    secret = grading_secret(root)
    package = stubs.package_hash()
    sources = {a: nbformat.read(root / SOURCE_DIR / a / f"{a}.ipynb", as_version=4) for a in known}
    tests = {a: tests_hash(root, a) for a in known}
    outcomes: list[Outcome] = []
    jobs: list[dict] = []
    codes: dict[tuple[str, str], dict[str, str]] = {}

    def refuse(student: str, assignment: str, reason: str, status: str = "refused") -> None:
        valid = bool(NAME.match(student)) and ".." not in student
        if assignment in known and status != "unknown assignment" and valid:
            record_scores(root, db_url, assignment, student, {})
            _write_problem(root, student, assignment, reason)
        outcomes.append(Outcome(student, assignment, status, reason,
                                max_score=sum(grade_points(sources[assignment]).values()) if assignment in known else 0))

    for student_dir in sorted(submitted.iterdir()):
        student = student_dir.name
        if student_dir.is_symlink() or not student_dir.is_dir():
            outcomes.append(Outcome(student, "-", "refused", f"{student} is not a plain folder"))
            continue
        for assignment_dir in sorted(student_dir.iterdir()):
            assignment = assignment_dir.name
            if assignment not in known:
                outcomes.append(Outcome(student, assignment, "unknown assignment", f"expected one of {known}"))
                continue
            try:
                sub = inspect_submission(assignment_dir, student, assignment, f"{assignment}.ipynb")
                nb = parse_notebook(sub.data)
            except Refused as err:
                status = "missing notebook" if str(err).startswith("expected ") else "refused"
                refuse(student, assignment, str(err), status)
                continue
            (root / FEEDBACK_DIR / student / assignment / PROBLEM_FILE).unlink(missing_ok=True)
            key = submission_key(sub.data, tests[assignment], package, limits)
            ledger = root / AUTOGRADED_DIR / student / assignment / LEDGER_FILE
            codes[(student, assignment)] = student_code(nb, sources[assignment])
            if ledger.exists():
                try:
                    previous = json.loads(ledger.read_text())
                except ValueError:
                    previous = {}
                if previous.get("key") == key:
                    outcomes.append(Outcome(student, assignment, "unchanged", "graded before with the same key",
                                            previous.get("score", 0.0), previous.get("max_score", 0.0)))
                    continue
            notebook_hash = hashlib.sha256(sub.data).hexdigest()
            graded = build_graded_notebook(sources[assignment], nb)
            jobs.append({"key": key, "student": student, "assignment": assignment, "limits": limits.as_dict(),
                         "notebook": nbformat.writes(graded), "source": nbformat.writes(sources[assignment]), "sandbox": not unsafe_no_sandbox,
                         "seeds": {gid: task_seed(secret, assignment, gid, notebook_hash)
                                   for gid in grade_points(sources[assignment])}})

    show = (not quiet) if progress is None else progress
    started = time.monotonic()
    if jobs:
        n_workers = workers if workers is not None else (os.cpu_count() or 1)
        threads = max(1, (os.cpu_count() or 1) // max(1, n_workers or 1))
        limits_threads = Limits(**{**limits.as_dict(), "threads": threads})
        for job in jobs:
            job["limits"] = limits_threads.as_dict() if limits.threads == 1 else limits.as_dict()
        executor = Executor(0 if len(jobs) == 1 and scheduler is None and workers is None else workers,
                            scheduler, threads)
        bar = _Progress(len(jobs), show)
        try:
            for job, result, error in executor.map(jobs):
                outcome = _store(root, db_url, sources[job["assignment"]], job, result, error)
                outcomes.append(outcome)
                bar.update(outcome)
        finally:
            executor.close()
            bar.close()
    _finish(root, db_url, csv_path, outcomes, codes, sources, quiet)
    if not quiet:
        _summary(outcomes, time.monotonic() - started)
    return outcomes


def _store(root: Path, db_url: str | None, source, job: dict, result: dict | None, error: str) -> Outcome:
    """Write one result (this process only): gradebook, autograded notebook, evidence, then the key."""
    student, assignment = job["student"], job["assignment"]
    points = grade_points(source)
    max_score = sum(points.values())
    if result is None:
        reason = f"the grader could not run this submission: {error}"
        record_scores(root, db_url, assignment, student, {})
        _write_problem(root, student, assignment, reason)
        return Outcome(student, assignment, "grading failed", reason, 0.0, max_score)
    verdicts = {v["grade_id"]: v for v in result["verdicts"]}
    scores = {gid: (points.get(gid, 0.0) if v["passed"] else 0.0) for gid, v in verdicts.items()}
    record_scores(root, db_url, assignment, student, scores)
    folder = root / AUTOGRADED_DIR / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(_autograded_notebook(result, verdicts), folder / f"{assignment}.ipynb")
    evidence = root / EVIDENCE_DIR / student / assignment
    evidence.mkdir(parents=True, exist_ok=True)
    os.chmod(root / EVIDENCE_DIR, 0o700)
    for gid, (tree, blob) in result["evidence"].items():
        _atomic_write(evidence / f"{gid}.json", tree)
        _atomic_write(evidence / f"{gid}.safetensors", blob or b"")
    _atomic_write(evidence / "grader.json", json.dumps({"key": job["key"], "package": stubs.package_hash(),
                                                          "worker": result["worker"], "seconds": result["seconds"],
                                                          "notes": result["notes"]}, indent=1))
    score = sum(scores.values())
    _atomic_write(folder / LEDGER_FILE, json.dumps({"key": job["key"], "score": score, "max_score": max_score}))
    failed = [(v["message"].splitlines() or ["failed"])[0] for v in result["verdicts"] if not v["passed"]]
    detail = "; ".join(result["notes"] + failed)
    return Outcome(student, assignment, "graded", detail, score, max_score, result["seconds"],
                   {gid: ("passed" if v["passed"] else "failed") for gid, v in verdicts.items()})


class _Progress:
    def __init__(self, total: int, show: bool):
        self.total, self.show, self.done, self.failed = total, show, 0, 0
        self.started = time.monotonic()
        self.bar = None
        if show:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="grading", unit="submission", file=sys.stderr)

    def update(self, outcome: Outcome) -> None:
        self.done += 1
        self.failed += outcome.status != "graded"
        if self.bar is not None:
            rate = self.done / max(1e-9, time.monotonic() - self.started) * 60
            self.bar.set_postfix_str(f"graded {self.done - self.failed} / failed {self.failed} / remaining "
                                     f"{self.total - self.done}, {rate:.1f}/min")
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _finish(root: Path, db_url: str | None, csv_path, outcomes: list[Outcome], codes, sources, quiet: bool) -> None:
    for name in sorted({o.assignment for o in outcomes if o.status in ("graded", "unchanged")}):
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
        writer.writerow(["student", "assignment", "status", "score", "max_score", "seconds", "detail"])
        for o in sorted(outcomes, key=lambda o: (o.assignment, o.student)):
            writer.writerow([o.student, o.assignment, o.status, o.score, o.max_score, o.seconds, o.detail])
    _similarity_report(csv_path.with_name("similarity-report.csv"), codes, sources)


def _similarity_report(path: Path, codes: dict[tuple[str, str], dict[str, str]], sources) -> None:
    """Pairs of near-identical answers (to the model answer or to each other), per task."""
    rows = []
    by_assignment: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for (student, assignment), code in codes.items():
        by_assignment.setdefault(assignment, []).append((student, code))
    for assignment, entries in by_assignment.items():
        model = {c.metadata["nbgrader"]["grade_id"]: "".join(c.source) for c in sources[assignment].cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
        for gid, answer in model.items():
            prints = {s: similarity.fingerprint(code.get(gid, "")) for s, code in entries}
            reference = similarity.fingerprint(answer.replace("### BEGIN SOLUTION", "").replace("### END SOLUTION", ""))
            for s, fp in prints.items():
                value = similarity.similarity(fp, reference)
                if value is not None and value >= similarity.THRESHOLD:
                    rows.append([assignment, gid, s, "(model answer)", f"{value:.2f}"])
            names = sorted(prints)
            for i, a in enumerate(names):
                for b in names[i + 1:]:
                    value = similarity.similarity(prints[a], prints[b])
                    if value is not None and value >= similarity.THRESHOLD:
                        rows.append([assignment, gid, a, b, f"{value:.2f}"])
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["assignment", "cell", "student", "similar_to", "similarity"])
        writer.writerows(rows)


def _summary(outcomes: list[Outcome], seconds: float) -> None:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    print(f"\n{'student':>20}  {'assignment':<24}{'status':<18}{'score':>12}  detail")
    for o in sorted(outcomes, key=lambda o: (o.assignment, o.student)):
        print(f"{o.student:>20}  {o.assignment:<24}{o.status:<18}{o.score:>6.1f}/{o.max_score:<5.1f}  {o.headline()[:80]}")
    print("\n" + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) + f"; {seconds:.1f} s")
