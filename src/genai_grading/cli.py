"""Command line of the course tools: release exercises, grade submissions, check a notebook.

    python -m genai_foundations.course release [ASSIGNMENT ...]
    python -m genai_foundations.course grade [--workers N] [--scheduler tcp://host:8786] [--memory-gb G] ...
    python -m genai_foundations.course check exercises/<slug>/<slug>.ipynb
"""

from __future__ import annotations

import argparse
import os
import sys

from genai_grading.grader import RELEASE_DIR, SUBMITTED_DIR, CourseError, course_root, grade, release
from genai_grading.sandbox import GiB, Limits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genai_foundations.course",
                                     description="Release the course's exercises, grade submissions, check a notebook.")
    parser.add_argument("--root", default=None, help="course folder (default: the current folder)")
    parser.add_argument("--db-url", default=os.environ.get("GENAI_GRADEBOOK_URL"),
                        help="SQLAlchemy URL of the gradebook (default: sqlite:///<root>/gradebook.db)")
    sub = parser.add_subparsers(dest="command", required=True)
    rel = sub.add_parser("release", help="regenerate exercises/ from solutions/")
    rel.add_argument("assignments", nargs="*", help="assignment names (default: all)")
    grd = sub.add_parser("grade", help="grade submitted/ in sandboxes, write the gradebook, feedback/ and grades.csv")
    grd.add_argument("--csv", default="grades.csv", help="where to write the grades (default: grades.csv)")
    grd.add_argument("--workers", type=int, default=None, help="parallel workers on this machine (default: one per core)")
    grd.add_argument("--scheduler", default=os.environ.get("GENAI_DASK_SCHEDULER"),
                     help="address of a Dask scheduler to grade on a cluster (e.g. tls://host:8786)")
    grd.add_argument("--memory-gb", type=float, default=None, help="memory per submission (default 4)")
    grd.add_argument("--cell-timeout", type=float, default=None, help="seconds per cell (default 120 or $GENAI_CELL_TIMEOUT)")
    grd.add_argument("--timeout", type=float, default=None, help="seconds per submission (default 900)")
    grd.add_argument("--unsafe-no-sandbox", action="store_true",
                     help="run students' code WITHOUT the sandbox (only on a machine you can throw away)")
    chk = sub.add_parser("check", help="run your notebook the way the grader will, and say what would lose points")
    chk.add_argument("notebook", help="e.g. exercises/mlp/mlp.ipynb")
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            from genai_grading.check import check_notebook

            return check_notebook(args.notebook, root=args.root)
        root = course_root(args.root)
        if args.command == "release":
            for name in release(root, args.assignments or None, db_url=args.db_url):
                print(f"released {name} -> {RELEASE_DIR}/{name}/")
            return 0
        limits = Limits.from_env(memory_bytes=int(args.memory_gb * GiB) if args.memory_gb else None,
                                 cell_timeout_s=args.cell_timeout, submission_timeout_s=args.timeout)
        outcomes = grade(root, db_url=args.db_url, csv_path=args.csv, limits=limits, workers=args.workers,
                         scheduler=args.scheduler, unsafe_no_sandbox=args.unsafe_no_sandbox)
        if not outcomes:
            print(f"no submissions found under {root / SUBMITTED_DIR}")
    except CourseError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
