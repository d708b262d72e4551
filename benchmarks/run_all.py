"""Run every benchmark script in sequence (``make bench``), or the quick variant of each (``make bench-quick``).

    python benchmarks/run_all.py [--quick] [--out DIR] [--only NAME ...]

Full (``make bench``): every script of :data:`SCRIPTS` with its full settings, writing
``benchmarks/results/<json>.json`` (the committed results), one after the other so that
no two compete for the 2-core CPU; 54 min 21 s in all on 2026-12-06 (the budgets are in each
script's docstring). Quick (``--quick``): every script of :data:`SCRIPTS` that has a
quick variant (all but those in :data:`NOT_QUICK`) with ``--quick --out DIR``
(default ``_build/bench-quick``), seconds each; ``tests/test_benchmarks.py`` runs the same
commands, one test per script.

Prints the wall time of each script and a summary; a script fails when it exits with a
non-zero status or does not (re)write its JSON with a non-empty ``table``. Every
script runs even after a failure; the exit status is 1 when any failed.
Each script gets one PyTorch thread unless it says otherwise (``OMP_NUM_THREADS=1``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
ROOT = BENCHMARKS.parent
#: Files under benchmarks/ that are not benchmark scripts.
HELPERS = ("common", "run_all")


@dataclass(frozen=True)
class Script:
    """One benchmark script: ``benchmarks/<name>.py`` writing ``<json>.json``; ``full_args`` are added to full runs."""

    name: str
    json: str
    full_args: tuple[str, ...] = ()


#: Every benchmark script, in the order ``make bench`` runs them (the comparisons with a library first).
SCRIPTS: tuple[Script, ...] = (
    Script("layers", "layers"),                          # chapters 13, 15: from-scratch layers vs torch.nn
    Script("flows_zuko", "flows_zuko"),                  # chapter 1: normalizing flows vs zuko
    Script("flow_matching_lib", "flow_matching_lib"),    # chapter 2: flow matching vs Meta's flow_matching
    Script("ddpm_diffusers", "ddpm_diffusers"),          # chapter 4: DDPM vs diffusers
    Script("deep_rl", "deep_rl"),                        # Part III: PPO, SAC, TD3 vs stable-baselines3
    Script("autoregressive_gpt", "autoregressive_gpt"),  # chapter 7's target: the GPT within 2 CPU minutes
    # the committed grading.json was measured with 20 submissions and 6 repeats: the same here
    Script("grading_throughput", "grading", ("--submissions", "20", "--repeats", "6")),
)
#: Scripts left out of the quick runs, and why.
NOT_QUICK: dict[str, str] = {
    "grading_throughput": "grades in the bubblewrap sandbox (root, bubblewrap, cgroups); the nbgrader round-trip "
                          "tests of make test already exercise the grader",
}


def quick_scripts() -> list[Script]:
    """The scripts that ``--quick`` (and ``tests/test_benchmarks.py``) run."""
    return [s for s in SCRIPTS if s.name not in NOT_QUICK]


def command(script: Script, quick: bool, out: Path | None, folder: Path = BENCHMARKS) -> list[str]:
    """The command line that runs ``script`` (full or quick), writing its JSON under ``out`` when given."""
    cmd = [sys.executable, str(folder / f"{script.name}.py")]
    cmd += ["--quick"] if quick else list(script.full_args)
    if out is not None:
        cmd += ["--out", str(out)]
    return cmd


def environment() -> dict[str, str]:
    """The environment of every script: one thread each unless set, and no model hub."""
    env = dict(os.environ)
    for name, value in (("OMP_NUM_THREADS", "1"), ("MKL_NUM_THREADS", "1"), ("HF_HUB_OFFLINE", "1"),
                        ("TRANSFORMERS_OFFLINE", "1"), ("GENAI_PROGRESS", "text")):
        env.setdefault(name, value)
    return env


def check_json(path: Path, since: float) -> str | None:
    """``None`` when ``path`` was written after ``since`` and holds a table with rows, else what is wrong."""
    if not path.exists():
        return f"{path} was not written"
    if path.stat().st_mtime < since:
        return f"{path} is older than this run (the script did not rewrite it)"
    try:
        table = json.loads(path.read_text(encoding="utf-8"))["table"]
    except (ValueError, KeyError, TypeError) as error:
        return f"{path} has no readable 'table' ({type(error).__name__}: {error})"
    rows, columns = table.get("rows") or [], table.get("columns") or []
    if not rows:
        return f"{path}: the table has no rows"
    if any(len(row) != len(columns) for row in rows):
        return f"{path}: a row of the table does not have {len(columns)} cells"
    return None


def run_script(script: Script, quick: bool, out: Path | None, timeout: float | None = None,
               folder: Path = BENCHMARKS) -> tuple[bool, float, str]:
    """Run ``<folder>/<name>.py``; returns (ok, wall seconds, what went wrong or '').

    ``out`` is where the JSON must appear (None: the script's default folder).
    """
    path = folder / f"{script.name}.py"
    if not path.exists():
        return False, 0.0, f"{path} does not exist"
    results = out if out is not None else (ROOT / "_build" / "bench-quick" if quick else BENCHMARKS / "results")
    started_at, started = time.time(), time.perf_counter()
    try:
        status = subprocess.run(command(script, quick, out, folder), cwd=ROOT, env=environment(),
                                timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        return False, time.perf_counter() - started, f"timed out after {timeout:g} s"
    seconds = time.perf_counter() - started
    if status != 0:
        return False, seconds, f"exit status {status}"
    problem = check_json(results / f"{script.json}.json", started_at - 1.0)
    return problem is None, seconds, problem or ""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="the quick variant of every script (seconds each)")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for the JSON (default: each script's own, benchmarks/results or _build/bench-quick)")
    p.add_argument("--only", nargs="+", default=None, metavar="NAME", help="run only these scripts (names without .py)")
    args = p.parse_args(argv)
    chosen = quick_scripts() if args.quick else list(SCRIPTS)
    if args.only:
        known = {s.name for s in chosen}
        if unknown := sorted(set(args.only) - known):
            p.error(f"unknown or not runnable{' with --quick' if args.quick else ''}: {unknown}; "
                    f"choose from {sorted(known)}")
        chosen = [s for s in chosen if s.name in args.only]
    if args.quick:
        out = args.out or ROOT / "_build" / "bench-quick"
        for name, reason in NOT_QUICK.items():
            print(f"[run_all] {name}: not in the quick runs ({reason})")
    else:
        out = args.out
    results = []
    for script in chosen:
        print(f"\n[run_all] {' '.join(command(script, args.quick, out))}", flush=True)
        ok, seconds, problem = run_script(script, args.quick, out)
        results.append((script.name, ok, seconds, problem))
        print(f"[run_all] {script.name}: {'ok' if ok else 'FAILED: ' + problem} in {seconds:.1f} s", flush=True)
    width = max(len(name) for name, *_ in results) if results else 10
    print(f"\n{'script':<{width}}  {'seconds':>8}  result")
    for name, ok, seconds, problem in results:
        print(f"{name:<{width}}  {seconds:>8.1f}  {'ok' if ok else 'FAILED: ' + problem}")
    print(f"{'total':<{width}}  {sum(r[2] for r in results):>8.1f}")
    failed = [name for name, ok, *_ in results if not ok]
    if failed:
        print(f"[run_all] {len(failed)} of {len(results)} failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
