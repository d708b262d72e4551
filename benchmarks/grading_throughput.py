"""Grading throughput: 1 worker against 2, and the sandbox's own overhead per submission.

    python benchmarks/grading_throughput.py [--quick] [--submissions 40] [--repeats 10] [--out DIR]

Builds a temporary course holding the real ``mlp`` exercise and N copies of
its model answer (each made distinct by a comment, so that none is skipped
as already graded), grades them with ``--workers 1`` and ``--workers 2``
(each kernel pinned to cores / workers threads in both runs), and times an
empty notebook in a fresh kernel with and without the sandbox. Prints a
table and writes ``benchmarks/results/grading.json``.

It needs what grading needs (Linux, root, bubblewrap, cgroups: ``make grading-deps``),
so ``make bench-quick`` leaves it out; ``--quick`` (2 submissions, 1 repeat, written to
``_build/bench-quick/``) checks it by hand. Nothing here is seeded: the graders' inputs
come from the HMAC of the secret and each submission.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import nbformat

from common import ROOT, write_results
from genai_grading import grader
from genai_grading.execute import execute_notebook
from genai_grading.sandbox import Limits


def _course(tmp: Path, n: int) -> Path:
    root = tmp / "course"
    (root / "solutions").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", root)
    shutil.copytree(ROOT / "solutions" / "mlp", root / "solutions" / "mlp")
    source = (root / "solutions" / "mlp" / "mlp.ipynb").read_text()
    for i in range(n):
        folder = root / "submitted" / f"student{i:03d}" / "mlp"
        folder.mkdir(parents=True)
        nb = json.loads(source)
        nb["cells"].append(nbformat.v4.new_code_cell(f"# submission {i}"))
        (folder / "mlp.ipynb").write_text(json.dumps(nb))
    return root


def _grade(root: Path, workers: int) -> float:
    for folder in ("autograded", "feedback", "grading-evidence"):
        shutil.rmtree(root / folder, ignore_errors=True)
    (root / "gradebook.db").unlink(missing_ok=True)
    started = time.monotonic()
    outcomes = grader.grade(root, workers=workers, quiet=True, progress=False)
    seconds = time.monotonic() - started
    bad = [o for o in outcomes if o.status != "graded" or o.score != o.max_score]
    if bad:
        raise SystemExit(f"{len(bad)} submissions were not graded full marks: {bad[0]}")
    return seconds


def _overhead(repeats: int) -> dict:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1 + 1")]
    times = {True: [], False: []}
    for _ in range(repeats):
        for use_sandbox in (True, False):
            started = time.monotonic()
            run = execute_notebook(nb, assignment="none", requests={}, limits=Limits(), use_sandbox=use_sandbox)
            assert not run["error"], run["error"]
            times[use_sandbox].append(time.monotonic() - started)
    with_s, without = statistics.median(times[True]), statistics.median(times[False])
    return {"median_with_sandbox_s": round(with_s, 3), "median_without_sandbox_s": round(without, 3),
            "overhead_s": round(with_s - without, 3), "repeats": repeats}


def table_from(result: dict) -> dict:
    """The table of the results page from a result's numbers (works on every version of ``grading.json``)."""
    n, sandbox = result["submissions"], result["sandbox"]
    rows = [["1", str(n), f"{result['seconds_1_worker']:.1f}", f"{result['submissions_per_minute_1_worker']:.2f}",
             "1.00x"],
            ["2", str(n), f"{result['seconds_2_workers']:.1f}", f"{result['submissions_per_minute_2_workers']:.2f}",
             f"{result['speed_up']:.2f}x"]]
    note = (f"Each submission is the {result['assignment']} exercise's model answer, graded full marks in a "
            f"bubblewrap sandbox with cgroup limits. The sandbox itself costs {sandbox['overhead_s']:.3f} s per "
            f"submission (median of {sandbox['repeats']} empty notebooks: {sandbox['median_with_sandbox_s']:.3f} s "
            f"with it, {sandbox['median_without_sandbox_s']:.3f} s without).")
    return {"title": f"Grading throughput: {n} submissions of '{result['assignment']}' with 1 and 2 workers",
            "columns": ["workers", "submissions", "seconds", "submissions / minute", "speed-up"],
            "rows": rows, "note": note}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="2 submissions and 1 repeat (checks that it runs); writes to --out")
    parser.add_argument("--submissions", type=int, default=None, help="copies of the model answer (default 40)")
    parser.add_argument("--repeats", type=int, default=None, help="empty notebooks per variant (default 10)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the JSON (default benchmarks/results, or _build/bench-quick with --quick)")
    args = parser.parse_args()
    args.seeds, args.threads = [], None  # nothing is seeded; each kernel gets cores / workers threads
    submissions = args.submissions or (2 if args.quick else 40)
    repeats = args.repeats or (1 if args.quick else 10)
    if submissions < 1 or repeats < 1:
        raise SystemExit("--submissions and --repeats must be at least 1")
    os.environ.setdefault("GENAI_GRADING_SECRET", "benchmark")
    with tempfile.TemporaryDirectory() as tmp:
        root = _course(Path(tmp), submissions)
        grader.release(root, ["mlp"])
        one = _grade(root, 1)
        two = _grade(root, 2)
    overhead = _overhead(repeats)
    detail = {
        "assignment": "mlp", "submissions": submissions,
        "seconds_1_worker": round(one, 1), "seconds_2_workers": round(two, 1),
        "submissions_per_minute_1_worker": round(submissions / one * 60, 2),
        "submissions_per_minute_2_workers": round(submissions / two * 60, 2),
        "speed_up": round(one / two, 2), "sandbox": overhead,
    }
    write_results("grading", args, table=table_from(detail), packages=["nbgrader", "jupyter_client"], **detail)


if __name__ == "__main__":
    main()
