"""Regenerate the shared checkpoints (``make checkpoints``) or check them against their records.

    python tools/make_checkpoints.py                      # retrain every registered checkpoint, overwrite its files
    python tools/make_checkpoints.py digits-classifier    # only the named ones
    python tools/make_checkpoints.py --list               # names, recorded metrics, who uses them
    python tools/make_checkpoints.py --verify             # load each committed file, re-measure its metric (seconds)
    python tools/make_checkpoints.py --check              # retrain into a temporary folder and compare with the
                                                          # committed files (metric within tolerance; same weights?)

Training runs on the CPU with one thread and the registered seed, so the same
machine regenerates the same bytes (another CPU may differ in the last bits).
See the README, "Conventions for chapters: recorded results and shared checkpoints".
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch is imported
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("GENAI_PROGRESS", "text")

from genai_foundations import checkpoints  # noqa: E402


def _within(recorded: float, measured: float, tolerance: float) -> bool:
    return abs(recorded - measured) <= tolerance


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="checkpoints to process (default: all registered)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--list", action="store_true", help="list the registered checkpoints")
    mode.add_argument("--verify", action="store_true", help="re-measure the committed checkpoints' metrics")
    mode.add_argument("--check", action="store_true", help="retrain into a temporary folder and compare")
    args = parser.parse_args(argv)
    names = args.names or sorted(checkpoints.REGISTRY)
    for name in names:
        checkpoints.spec(name)  # a clear error for an unknown name, before any training

    if args.list:
        for name in names:
            entry = checkpoints.REGISTRY[name]
            try:
                recorded = checkpoints.checkpoint_info(name)["metric"]
            except (FileNotFoundError, ValueError):
                recorded = "(not generated yet)"
            print(f"{name}: used by {', '.join(entry.used_by) or '-'}; recorded {recorded}\n    {entry.description}")
        return 0

    failures = 0
    if args.verify:
        for name in names:
            for key, (recorded, measured, tol) in checkpoints.measure(name).items():
                ok = _within(recorded, measured, tol)
                failures += not ok
                print(f"{name}: {key} recorded {recorded:.8g}, measured {measured:.8g} ({'ok' if ok else 'DIFFERS'})")
        return 1 if failures else 0

    if args.check:
        with tempfile.TemporaryDirectory() as folder:
            for name in names:
                start = time.perf_counter()
                fresh = checkpoints.regenerate(name, folder=folder)
                committed = checkpoints.checkpoint_info(name)
                for key, value in fresh["metric"].items():
                    ok = _within(committed["metric"][key], value, committed["metric_tolerance"].get(key, 1e-6))
                    failures += not ok
                    print(f"{name}: {key} committed {committed['metric'][key]:.8g}, retrained {value:.8g} "
                          f"({'ok' if ok else 'DIFFERS'})")
                same = fresh["weights_sha256"] == committed["weights_sha256"]
                print(f"{name}: retrained weights are {'identical to' if same else 'NOT bit-identical to'} "
                      f"the committed ones ({time.perf_counter() - start:.0f} s)")
        return 1 if failures else 0

    for name in names:
        start = time.perf_counter()
        info = checkpoints.regenerate(name)
        size = (checkpoints.CHECKPOINT_DIR / info["weights_file"]).stat().st_size
        print(f"{name}: {info['metric']} -> {checkpoints.CHECKPOINT_DIR / info['weights_file']} "
              f"({size / 1024:.0f} KiB, {time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
