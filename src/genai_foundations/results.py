"""Recorded results: the headline numbers a chapter computes, written where the website finds them.

A chapter calls :func:`record_result` once per headline number (a quality
ratio, a Fréchet distance, bits/dim, a validation loss, an accuracy, a
return). Each call adds or replaces one entry of ``<slug>.results.json`` in
the results folder, beside the executed notebook. The website's results page
reads these files; nobody types a number into it by hand.

The file's schema (``SCHEMA_VERSION`` 1)::

    {
      "schema_version": 1,
      "chapter": "ddpm",
      "results": [
        {"name": "Fréchet ratio, DDIM 50 steps", "value": 1.42, "unit": "ratio",
         "target": 2.0, "target_kind": "at most", "baseline": null, "baseline_name": null,
         "mode": "full", "machine": {"cpu": "...", "cores": 2, "gpu": null,
         "torch": "2.x", "device": "cpu"}, "recorded_at": "2026-12-05T18:00:00+00:00",
         "meets_target": true}
      ]
    }

``target_kind`` is ``"at most"``, ``"at least"`` or null; ``meets_target``
is computed from it. The folder is ``$GENAI_RESULTS_DIR`` when set,
otherwise ``_build/results`` under the current working directory's
repository root (the folder holding ``_config.yml``), otherwise the
current folder.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
from pathlib import Path
from typing import Any

import torch

SCHEMA_VERSION = 1
RESULTS_ENV_VAR = "GENAI_RESULTS_DIR"
TARGET_KINDS = ("at most", "at least")


def results_dir() -> Path:
    """Where result files go: ``$GENAI_RESULTS_DIR``, else ``<repo>/_build/results``."""
    if os.environ.get(RESULTS_ENV_VAR):
        return Path(os.environ[RESULTS_ENV_VAR])
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "_config.yml").exists():
            return folder / "_build" / "results"
    return here / "_build" / "results"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(device: str | torch.device = "cpu") -> dict[str, Any]:
    """The machine a number was measured on: CPU model and cores, GPU (if used), torch version."""
    device = torch.device(device)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    return {"cpu": _cpu_model(), "cores": os.cpu_count(), "gpu": gpu, "torch": torch.__version__,
            "device": str(device)}


def _number(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{what} must be a single number, got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number, got {type(value).__name__}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{what} is NaN: record a number the chapter computed")
    if not math.isfinite(value):
        raise ValueError(f"{what} is infinite: record a finite number (JSON has no infinity)")
    return value


def record_result(chapter: str, name: str, value: float, unit: str, *, quick: bool,
                  target: float | None = None, target_kind: str | None = None,
                  baseline: float | None = None, baseline_name: str | None = None,
                  device: str | torch.device = "cpu", folder: str | os.PathLike | None = None) -> dict[str, Any]:
    """Record one headline number of ``chapter`` and return the stored entry.

    ``target``/``target_kind``: the chapter's goal (e.g. ``2.0``, ``"at most"``);
    ``baseline``/``baseline_name``: what the number is compared with (e.g. the
    real-vs-real Fréchet distance). Recording the same ``name`` again replaces
    the entry, so re-running a notebook never duplicates rows. The file holds
    one mode: recording in full mode drops the chapter's QUICK entries and the
    other way round, so that a full build never shows a stale QUICK number
    (some names exist in one mode only, e.g. a step count that QUICK lowers).
    """
    if not chapter or "/" in chapter or chapter.startswith("."):
        raise ValueError(f"chapter must be the chapter's slug (e.g. 'ddpm'), got {chapter!r}")
    if not name:
        raise ValueError("name must say what the number is")
    value = _number(value, "value")
    target = _number(target, "target")
    baseline = _number(baseline, "baseline")
    if (target is None) != (target_kind is None):
        raise ValueError("give target and target_kind together (target_kind is 'at most' or 'at least')")
    if target_kind is not None and target_kind not in TARGET_KINDS:
        raise ValueError(f"target_kind must be one of {TARGET_KINDS}, got {target_kind!r}")
    meets = None
    if target is not None:
        meets = value <= target if target_kind == "at most" else value >= target
    entry = {"name": name, "value": value, "unit": unit, "target": target, "target_kind": target_kind,
             "baseline": baseline, "baseline_name": baseline_name, "mode": "QUICK" if quick else "full",
             "machine": machine(device), "recorded_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
             "meets_target": meets}
    path = Path(folder) if folder is not None else results_dir()
    path.mkdir(parents=True, exist_ok=True)
    file = path / f"{chapter}.results.json"
    data = load_results(file) if file.exists() else {"schema_version": SCHEMA_VERSION, "chapter": chapter, "results": []}
    data["results"] = [r for r in data["results"] if r["name"] != name and r["mode"] == entry["mode"]] + [entry]
    tmp = file.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(file)
    return entry


def load_results(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate one chapter's results file."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{path}: expected schema_version {SCHEMA_VERSION}, got {data.get('schema_version')!r}")
    for key in ("chapter", "results"):
        if key not in data:
            raise ValueError(f"{path}: missing key {key!r}")
    for entry in data["results"]:
        missing = {"name", "value", "unit", "mode", "machine"} - set(entry)
        if missing:
            raise ValueError(f"{path}: an entry lacks {sorted(missing)}")
    return data
