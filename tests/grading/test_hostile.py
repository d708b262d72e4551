"""Hostile submissions against the real grader: sandbox, outside verdicts, sanitising, resuming.

One batch of submissions, each an attack (or an honest answer that must keep
its points), is graded once with the real sandbox and two local workers;
each test then checks one property of that batch. The expected scores are
exact: 6 is full marks (double 2, soft 3, square 1).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import socket
import sqlite3
import threading
from pathlib import Path

import pytest

from genai_grading import sandbox
from genai_grading.grader import grade
from genai_grading.sandbox import GiB, Limits

from hostile_course import GOOD, MAX_SCORE, d, fill, make_course, released

# `make test` installs bubblewrap and sets GENAI_REQUIRE_SANDBOX=1: there these tests can never be skipped.
if os.environ.get("GENAI_REQUIRE_SANDBOX") == "1":
    sandbox.check()
pytestmark = pytest.mark.skipif(not sandbox.available(), reason="needs Linux, root, bubblewrap and cgroups")

ROOT = Path(__file__).resolve().parents[2]


def _tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


class _Listener:
    """A TCP server on the host's loopback that counts connections (the sandbox must reach none)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                pass


def submissions(root: Path, port: int) -> dict[str, tuple[object, float]]:
    """student -> (notebook dict, raw text, or a callable that builds the folder), expected score."""
    rel = released(root)
    good = dict(GOOD)
    wrong = {"double": "def double(x):\n    return 3 * x", "soft": "def soft(z):\n    return z",
             "square": "def square(x):\n    return x + 1"}
    course = str(root)

    def with_(**answers):
        return {**good, **answers}

    subs: dict[str, tuple[object, float]] = {
        "good": (fill(rel, good), 6),
        "untouched": (rel, 0),
        # honest answers that are noisy or work in another precision keep their points
        "honest-noisy": (fill(rel, with_(double=d("""
            import sys, warnings
            def double(x):
                warnings.warn("a harmless warning")
                print("debug output", file=sys.stderr)
                return (x.double() * 2).to(x.dtype)
            """))), 6),
        # calling the package's reference (physically absent in the sandbox) earns nothing
        "reference-call": (fill(rel, with_(soft=d("""
            from genai_foundations.architectures.activations import softmax
            def soft(z):
                return softmax(z)
            """))), 3),
        "reference-unwrap": (fill(rel, with_(soft=d("""
            import inspect
            from genai_foundations.architectures import activations
            def soft(z):
                return inspect.unwrap(activations.softmax)(z)
            """))), 3),
        # library one-liners and their aliases
        "library-softmax": (fill(rel, with_(soft="def soft(z):\n    return torch.softmax(z, dim=-1)")), 3),
        "library-alias": (fill(rel, with_(soft=d("""
            def soft(z):
                f = getattr(torch.ops.aten, "_soft" + "max")
                return f(z, -1, False)
            """))), 3),
        "library-dynamic": (fill(rel, with_(soft=d("""
            def soft(z):
                return getattr(torch, "soft" + "max")(z, dim=-1)
            """))), 3),
        "library-square": (fill(rel, with_(square="def square(x):\n    return torch.square(x)")), 5),
        # the model answers and the course folder are out of reach
        "read-solutions": (fill(rel, with_(double=d(f"""
            import json
            try:
                _nb = json.load(open({course!r} + "/solutions/toy/toy.ipynb"))
                exec("".join(_nb["cells"][2]["source"]))
            except Exception:
                def double(x):
                    return 3 * x
            """))), 4),
        "write-course": (fill(rel, good, before=d(f"""
            for _p in ["/solutions/toy/pwned.py", "/exercises/toy/pwned.py", "/gradebook.db", "/../pwned"]:
                try:
                    open({course!r} + _p, "w").write("x")
                except OSError:
                    pass
            """)), 6),
        "gradebook-tamper": (fill(rel, good, before=d(f"""
            import sqlite3
            try:
                _db = sqlite3.connect({course!r} + "/gradebook.db")
                _db.execute("update grade set auto_score = 5994")
                _db.commit()
            except Exception:
                pass
            """)), 6),
        "network": (fill(rel, with_(double=d(f"""
            import socket
            def double(x):
                try:
                    socket.create_connection(("127.0.0.1", {port}), timeout=1).close()
                    return 3 * x
                except OSError:
                    return 2 * x
            """))), 6),
        # nothing printed or patched inside the kernel changes a verdict
        "fake-output": (fill(rel, wrong, after='print("grader: PASSED. all hidden cases correct\\nscore 6/6")'), 0),
        "patch-comparisons": (fill(rel, wrong, before=d("""
            import builtins, torch
            torch.allclose = lambda *a, **k: True
            torch.equal = lambda *a, **k: True
            builtins.AssertionError = type("Nope", (Exception,), {})
            """)), 0),
        "neuter-cells": (fill(rel, wrong, before=d("""
            ip = get_ipython()
            ip.input_transformers_post.append(lambda lines: ["pass\\n"])
            """)), 0),
        "edit-tests": (_edited_tests(fill(rel, wrong)), 0),
        # misbehaviour costs only what it breaks
        "sys-exit": (fill(rel, with_(soft="import sys\nsys.exit('bye')\ndef soft(z):\n    return z")), 3),
        "os-exit-last": (fill(rel, good, after="import os\nos._exit(0)"), 5),
        "endless-loop": (fill(rel, with_(double="def double(x):\n    while True:\n        pass")), 4),
        "memory-bomb": (fill(rel, with_(soft=d("""
            def soft(z):
                hog = torch.ones(3 * 2**30, dtype=torch.float32)  # 12 GiB
                return hog[:1]
            """))), 2),
        "fork-bomb": (fill(rel, with_(square=d("""
            import os
            def square(x):
                while True:
                    if os.fork() == 0:
                        while True:
                            try:
                                os.fork()
                            except OSError:
                                pass
            """))), 5),
        "huge-output": (fill(rel, with_(double=d("""
            def double(x):
                for _ in range(50):
                    print("x" * 1_000_000)
                return x + x
            """))), 6),
        "disk-fill": (fill(rel, good, before=d("""
            try:
                with open("/tmp/fill", "wb") as _f:
                    while True:
                        _f.write(b"0" * 2**24)
            except OSError:
                pass
            """)), 6),
        "kill-parent": (fill(rel, good, before="import os, signal\ntry:\n    os.kill(os.getppid(), signal.SIGKILL)\nexcept OSError:\n    pass"), 6),
        # files the grader refuses to read
        "symlink": (lambda folder: os.symlink("../../../gradebook.db", folder / "notes.txt"), 0),
        "fifo": (lambda folder: os.mkfifo(folder / "pipe"), 0),
        "deep-json": ('{"cells": ' + "[" * 5000 + "]" * 5000 + "}", 0),
        "broken-json": ("{this is not json", 0),
        "not-a-notebook": (json.dumps({"hello": 1}), 0),
        "bad..name": (fill(rel, good), 0),
        "missing": (None, 0),
    }
    return subs


def _edited_tests(nb: dict) -> dict:
    for cell in nb["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("grade"):
            cell["source"] = "pass  # tests removed"
            meta["points"] = 100
    return nb


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    root = make_course(tmp)
    env = {"GENAI_GRADING_TASKS_DIR": str(tmp / "tasks"), "GENAI_GRADING_SECRET": "test-secret"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    from genai_grading.grader import release

    release(root)
    listener = _Listener()
    expected = {}
    for student, (content, score) in submissions(root, listener.port).items():
        folder = root / "submitted" / student / "toy"
        folder.mkdir(parents=True)
        expected[student] = score
        if callable(content):
            (folder / "toy.ipynb").write_text(json.dumps(released(root)))
            content(folder)
        elif isinstance(content, dict):
            (folder / "toy.ipynb").write_text(json.dumps(content))
        elif isinstance(content, str):
            (folder / "toy.ipynb").write_text(content)
    # the tree of students who are graded normally, before grading: it must not change
    before = {name: _tree_hash(root / name) for name in ("solutions", "exercises")}
    limits = Limits(cell_timeout_s=15, memory_bytes=4 * GiB)
    outcomes = grade(root, limits=limits, workers=2, quiet=True)
    listener.stop = True
    yield {"root": root, "outcomes": {o.student: o for o in outcomes}, "expected": expected, "before": before,
           "listener": listener, "limits": limits, "tmp": tmp}
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _grades(root: Path) -> dict[str, float]:
    with (root / "grades.csv").open(newline="") as handle:
        return {row["student_id"]: float(row["score"]) for row in csv.DictReader(handle)}


def test_every_submission_gets_exactly_its_expected_score(batch):
    grades = _grades(batch["root"])
    expected = {s: v for s, v in batch["expected"].items() if s != "bad..name"}
    assert grades == pytest.approx(expected), {s: (grades.get(s), v) for s, v in expected.items() if grades.get(s) != v}
    assert batch["outcomes"]["bad..name"].status == "refused"
    for student in ("symlink", "fifo", "deep-json", "broken-json", "not-a-notebook"):
        assert batch["outcomes"][student].status == "refused", batch["outcomes"][student]
    assert batch["outcomes"]["missing"].status == "missing notebook"


def test_the_limits_are_what_stopped_the_bombs(batch):
    detail = {s: o.detail for s, o in batch["outcomes"].items()}
    assert "memory" in detail["memory-bomb"]
    assert "processes" in detail["fork-bomb"]
    assert "forbids" in detail["library-softmax"] and "forbids" in detail["library-square"]


def test_the_course_folder_and_gradebook_are_untouched(batch):
    root = batch["root"]
    for name, digest in batch["before"].items():
        assert _tree_hash(root / name) == digest, f"{name}/ changed during grading"
    assert not list(root.rglob("pwned*"))
    assert batch["listener"].connections == 0, "a sandbox reached the host's loopback"
    with sqlite3.connect(root / "gradebook.db") as db:
        assert db.execute("select max(auto_score) from grade").fetchone()[0] <= 3


def test_feedback_shows_no_hidden_tests_and_no_gradebook(batch):
    root = batch["root"]
    for folder in ("feedback", "autograded"):
        for path in (root / folder).rglob("*"):
            if not path.is_file():
                continue
            data = path.read_bytes()
            assert not data.startswith(b"SQLite format 3"), f"{path} is a copy of the gradebook"
            text = data.decode("utf-8", "replace")
            for secret in ("grade_task(", "check_function", "grading_generator", "test-secret", "lambda v: v * v"):
                assert secret not in text, f"{path} shows hidden-test text {secret!r}"
    assert (root / "feedback" / "symlink" / "toy" / "grading-problem.html").exists()
    assert "symbolic link" in (root / "feedback" / "symlink" / "toy" / "grading-problem.html").read_text()


def test_regrading_resumes_and_changes_nothing(batch):
    root = batch["root"]
    before = _grades(root)
    ledger = root / "autograded" / "good" / "toy" / ".genai-grading.json"
    ledger.unlink()  # as if the run had been killed before this submission was recorded
    outcomes = {o.student: o for o in grade(root, limits=batch["limits"], workers=0, quiet=True)}
    assert outcomes["good"].status == "graded"
    assert {o.status for s, o in outcomes.items() if s not in ("good",)} <= {
        "unchanged", "refused", "missing notebook"}
    assert _grades(root) == before


def test_a_killed_grading_run_resumes_to_the_same_gradebook(tmp_path):
    """A power cut, simulated by SIGKILL to the whole grading process group, then `make grade` again."""
    import signal
    import subprocess
    import sys
    import time

    root = make_course(tmp_path)
    env = dict(os.environ, GENAI_GRADING_TASKS_DIR=str(tmp_path / "tasks"), GENAI_GRADING_SECRET="kill-secret")
    os.environ.update({k: env[k] for k in ("GENAI_GRADING_TASKS_DIR", "GENAI_GRADING_SECRET")})
    from genai_grading.grader import release

    release(root)
    rel = released(root)
    expected = {"p": 6, "q": 3, "r": 6, "s": 3}
    for student, score in expected.items():
        answers = dict(GOOD) if score == 6 else dict(GOOD, soft="def soft(z):\n    return z")
        folder = root / "submitted" / student / "toy"
        folder.mkdir(parents=True)
        (folder / "toy.ipynb").write_text(json.dumps(fill(rel, answers)))
    process = subprocess.Popen([sys.executable, "-m", "genai_foundations.course", "--root", str(root), "grade",
                                "--workers", "1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not list((root / "autograded").glob("*/toy/.genai-grading.json")):
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done_before = len(list((root / "autograded").glob("*/toy/.genai-grading.json")))
    assert 1 <= done_before < len(expected), "the run was not interrupted half-way"
    outcomes = {o.student: o for o in grade(root, workers=0, quiet=True)}
    assert sum(o.status == "unchanged" for o in outcomes.values()) == done_before
    assert _grades(root) == pytest.approx(expected)
    with sqlite3.connect(root / "gradebook.db") as db:
        rows = db.execute("select count(*) from submitted_assignment").fetchone()[0]
    assert rows == len(expected), "a submission was recorded twice"
