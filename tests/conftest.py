"""Shared pytest set-up.

When nbval executes the prepared notebooks (see ``notebook_pipeline.py``),
the hooks below store each cell's outputs back into the notebook and, once
every cell of a *book chapter* has passed, write the executed notebook to
``_build/executed/`` for the site build test. A notebook with a failing
cell is not written, so the site test executes it itself and fails too.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from notebook_pipeline import EXECUTED, PREPARED  # noqa: E402

_failed: set[str] = set()


def _is_nbval_cell(item) -> bool:
    return type(item).__name__ == "IPyNbCell"


def _clean_output(out) -> dict:
    kind = out["output_type"]
    if kind == "stream":
        return {"output_type": "stream", "name": out["name"], "text": out["text"]}
    if kind in ("display_data", "execute_result"):
        clean = {"output_type": kind, "data": dict(out["data"]), "metadata": dict(out.get("metadata", {}))}
        if kind == "execute_result":
            clean["execution_count"] = out.get("execution_count")
        return clean
    return {"output_type": "error", "ename": out["ename"], "evalue": out["evalue"], "traceback": list(out["traceback"])}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if _is_nbval_cell(item) and report.failed:
        _failed.add(str(item.parent.path))


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    if not _is_nbval_cell(item):
        return
    outputs = getattr(item, "test_outputs", None)
    if outputs is not None:
        item.cell.outputs = [nbformat.from_dict(_clean_output(o)) for o in outputs]
        item.cell.execution_count = item.cell_num + 1
        for out in item.cell.outputs:
            if out["output_type"] == "execute_result":
                out["execution_count"] = item.cell.execution_count
    last_of_notebook = nextitem is None or nextitem.parent is not item.parent
    path = Path(item.parent.path)
    if not last_of_notebook or str(path) in _failed:
        return
    try:
        relative = path.relative_to(PREPARED)
    except ValueError:
        return
    if relative.parts[0] != "book":
        return
    target = EXECUTED / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    nb = item.parent.nb
    nbformat.validate(nb)
    nbformat.write(nb, target)
