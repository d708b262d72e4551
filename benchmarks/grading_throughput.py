"""Grading throughput: 1 worker against 2, and the sandbox's own overhead per submission.

    python benchmarks/grading_throughput.py [--submissions 40] [--repeats 10]

Builds a temporary course holding the real ``mlp`` exercise and N copies of
its model answer (each made distinct by a comment, so that none is skipped
as already graded), grades them with ``--workers 1`` and ``--workers 2``
(each kernel pinned to cores / workers threads in both runs), and times an
empty notebook in a fresh kernel with and without the sandbox. Prints a
table and writes ``benchmarks/results/grading.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from genai_grading import grader  # noqa: E402
from genai_grading.execute import execute_notebook  # noqa: E402
from genai_grading.sandbox import Limits  # noqa: E402


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submissions", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    os.environ.setdefault("GENAI_GRADING_SECRET", "benchmark")
    with tempfile.TemporaryDirectory() as tmp:
        root = _course(Path(tmp), args.submissions)
        grader.release(root, ["mlp"])
        one = _grade(root, 1)
        two = _grade(root, 2)
    overhead = _overhead(args.repeats)
    result = {
        "benchmark": "grading_throughput", "assignment": "mlp", "submissions": args.submissions,
        "seconds_1_worker": round(one, 1), "seconds_2_workers": round(two, 1),
        "submissions_per_minute_1_worker": round(args.submissions / one * 60, 2),
        "submissions_per_minute_2_workers": round(args.submissions / two * 60, 2),
        "speed_up": round(one / two, 2), "sandbox": overhead,
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    print(f"{'workers':>8} {'seconds':>9} {'per minute':>11}")
    print(f"{1:>8} {one:>9.1f} {result['submissions_per_minute_1_worker']:>11}")
    print(f"{2:>8} {two:>9.1f} {result['submissions_per_minute_2_workers']:>11}")
    print(f"speed-up {result['speed_up']}x; sandbox overhead per submission {overhead['overhead_s']} s "
          f"(median of {args.repeats}: {overhead['median_with_sandbox_s']} s vs {overhead['median_without_sandbox_s']} s)")
    out = ROOT / "benchmarks" / "results" / "grading.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
