"""Grading on a real Dask cluster: a scheduler and two worker processes on this machine.

A worker killed while it grades a submission costs nothing: the scheduler
sends the submission to the other worker, and the gradebook holds exactly
one row per submission with the same scores as a run on one machine.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genai_grading import sandbox
from genai_grading.grader import grade, release
from genai_grading.sandbox import Limits

from hostile_course import GOOD, fill, make_course, released

if os.environ.get("GENAI_REQUIRE_SANDBOX") == "1":
    sandbox.check()
pytestmark = pytest.mark.skipif(not sandbox.available(), reason="needs Linux, root, bubblewrap and cgroups")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def test_a_dask_cluster_grades_and_survives_a_dead_worker(tmp_path):
    root = make_course(tmp_path)
    env = dict(os.environ, GENAI_GRADING_TASKS_DIR=str(tmp_path / "tasks"), GENAI_GRADING_SECRET="cluster-secret",
               OMP_NUM_THREADS="1")
    os.environ.update({"GENAI_GRADING_TASKS_DIR": env["GENAI_GRADING_TASKS_DIR"],
                       "GENAI_GRADING_SECRET": env["GENAI_GRADING_SECRET"]})
    release(root)
    rel = released(root)
    slow = dict(GOOD, double="import time\ndef double(x):\n    time.sleep(2)\n    return x + x")
    expected = {"a": 6, "b": 6, "c": 6, "d": 6, "e": 3}
    for student in "abcd":
        folder = root / "submitted" / student / "toy"
        folder.mkdir(parents=True)
        (folder / "toy.ipynb").write_text(json.dumps(fill(rel, slow)))
    folder = root / "submitted" / "e" / "toy"
    folder.mkdir(parents=True)
    (folder / "toy.ipynb").write_text(json.dumps(fill(rel, dict(GOOD, soft="def soft(z):\n    return z"))))

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    processes = [_start(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port),
                         "--no-dashboard"], env)]
    time.sleep(3)
    workers = [_start(["distributed.cli.dask_worker", address, "--nthreads", "1", "--no-nanny",
                       "--no-dashboard", "--host", "127.0.0.1"], env) for _ in range(2)]
    processes += workers

    killed_while_grading = []

    def kill_one_worker_while_it_grades():
        import psutil

        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            try:
                children = psutil.Process(workers[0].pid).children(recursive=True)
            except psutil.NoSuchProcess:
                return
            if any("ipykernel" in " ".join(c.cmdline()) for c in children if c.is_running()):
                time.sleep(1.0)  # the kernel is running a submission's cells now
                killed_while_grading.append(True)
                os.killpg(workers[0].pid, signal.SIGKILL)
                return
            time.sleep(0.2)

    import threading

    killer = threading.Thread(target=kill_one_worker_while_it_grades, daemon=True)
    try:
        time.sleep(3)
        killer.start()
        outcomes = {o.student: o for o in grade(root, scheduler=address, limits=Limits(cell_timeout_s=30),
                                                quiet=True)}
    finally:
        for p in processes:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert killed_while_grading and workers[0].poll() is not None, "the worker was not killed while grading"
    assert {s: o.status for s, o in outcomes.items()} == {s: "graded" for s in expected}
    with (root / "grades.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["student_id"] for r in rows) == sorted(expected), "one row per submission, none twice"
    assert {r["student_id"]: float(r["score"]) for r in rows} == expected
