"""What every benchmark script shares: its command line, its summary statistics and the JSON it writes.

Each script under ``benchmarks/`` compares the course's implementation with a library's on the
same data, seeds and budget, prints one table and writes ``benchmarks/results/<name>.json``.
The JSON holds the script's own detail (every run, every config) plus three keys that
the website's results page reads without knowing the script:

``table``
    ``{"title": str, "columns": [str, ...], "rows": [[cell, ...], ...], "note": str}``:
    the table the script printed, cells already formatted as strings (``"1.23 ± 0.04"``).
``versions``
    the Python, torch and library versions that ran.
``machine`` and ``date``
    the CPU model and cores (or GPU), and when the run finished (UTC, ISO 8601).

``--quick`` runs every comparison on tiny settings (seconds) so that ``make bench-quick`` (part of
``make test``) proves the scripts still run; a quick run writes to ``--out`` (by default
``_build/bench-quick/``), never over the committed full-run JSON. ``"quick": true`` marks it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import math
import platform
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

RESULTS = ROOT / "benchmarks" / "results"
QUICK_RESULTS = ROOT / "_build" / "bench-quick"


def parser(description: str, default_seeds: Sequence[int] = (0, 1, 2),
           threads_help: str = "PyTorch threads (default 1)") -> argparse.ArgumentParser:
    """A command line with the options every benchmark takes; a script adds its own to it."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true",
                   help="tiny settings (seconds): checks that the comparison runs; writes to --out")
    p.add_argument("--seeds", type=int, nargs="+", default=list(default_seeds), help="seeds to run")
    p.add_argument("--threads", type=int, default=1, help=threads_help)
    p.add_argument("--out", type=Path, default=None,
                   help=f"folder for the JSON (default {RESULTS.relative_to(ROOT)}, "
                        f"or {QUICK_RESULTS.relative_to(ROOT)} with --quick)")
    return p


def output_folder(args: argparse.Namespace) -> Path:
    """Where this run's JSON goes: ``--out``, else the quick folder or ``benchmarks/results``."""
    if args.out is not None:
        return Path(args.out)
    return QUICK_RESULTS if args.quick else RESULTS


def versions(*packages: str) -> dict[str, str]:
    """Installed versions of Python, torch and ``packages`` (distribution names, e.g. ``"diffusers"``)."""
    found = {"python": platform.python_version()}
    for name in ("torch", *packages):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def mean_std(values: Iterable[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value) of a list of numbers."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("mean_std needs at least one value")
    mean = sum(values) / len(values)
    if len(values) == 1:
        return mean, 0.0
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(var)


def pm(values: Iterable[float], digits: int = 3) -> str:
    """``"mean ± std"`` of ``values``, rounded to ``digits`` decimals."""
    mean, std = mean_std(values)
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def format_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table with aligned columns, for the terminal."""
    cells = [[str(c) for c in columns]] + [[str(c) for c in row] for row in rows]
    for row in cells:
        if len(row) != len(columns):
            raise ValueError(f"a row has {len(row)} cells, the table has {len(columns)} columns: {row}")
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = [title, "  ".join(c.ljust(w) for c, w in zip(cells[0], widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells[1:]]
    return "\n".join(lines)


def write_results(name: str, args: argparse.Namespace, *, table: dict[str, Any], packages: Sequence[str],
                  device: str = "cpu", **detail: Any) -> Path:
    """Print ``table`` and write ``<out>/<name>.json`` with the table, versions, machine, date and ``detail``."""
    from genai_foundations.results import machine

    missing = {"title", "columns", "rows"} - set(table)
    if missing:
        raise ValueError(f"table lacks {sorted(missing)}")
    table = {"title": table["title"], "columns": list(table["columns"]),
             "rows": [[str(c) for c in row] for row in table["rows"]], "note": table.get("note", "")}
    print(format_table(table["title"], table["columns"], table["rows"]))
    if table["note"]:
        print(table["note"])
    payload = {"benchmark": name, "quick": bool(args.quick), "seeds": list(args.seeds), "threads": args.threads,
               "table": table, **detail, "versions": versions(*packages), "machine": machine(device),
               "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    folder = output_folder(args)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    print(f"wrote {path}")
    return path
