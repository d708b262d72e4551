"""Which notebooks the test suite executes, and how they are prepared.

``python tests/notebook_pipeline.py prepare`` (run by ``make test``) writes a
copy of every book chapter and every solution notebook under
``tests/notebooks/`` with papermill's parameter injection (``QUICK = True``),
without executing anything. pytest then executes those copies once with
nbval; ``tests/conftest.py`` keeps the executed chapters in ``_build/executed/``
so that the site build test can render them without executing them again.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PREPARED = ROOT / "tests" / "notebooks"
EXECUTED = ROOT / "_build" / "executed"
QUICK_PARAMETERS = {"QUICK": True}

sys.path.insert(0, str(ROOT / "tools"))
import check_site  # noqa: E402  (tools/check_site.py: its _toc.yml reader; needs no browser)


def toc_files() -> list[str]:
    """Every file named in ``_toc.yml`` (without suffix), in book order (the site checker's reader)."""
    return check_site.toc_files(ROOT / "_toc.yml")

def chapter_notebooks() -> list[Path]:
    """The book's notebooks (relative to the repository root), in book order."""
    return [Path(f + ".ipynb") for f in toc_files() if (ROOT / (f + ".ipynb")).exists()]


def solution_notebooks() -> list[Path]:
    return sorted(p.relative_to(ROOT) for p in (ROOT / "solutions").glob("*/*.ipynb"))


def has_parameters_cell(path: Path) -> bool:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    return any("parameters" in cell.metadata.get("tags", []) for cell in nb.cells)


def prepare(dest: Path = PREPARED) -> list[Path]:
    """Write parameter-injected copies of all chapter and solution notebooks under ``dest``."""
    import papermill

    if dest.exists():
        shutil.rmtree(dest)
    written = []
    for relative in chapter_notebooks() + solution_notebooks():
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if has_parameters_cell(ROOT / relative):
            papermill.execute_notebook(str(ROOT / relative), str(target), parameters=QUICK_PARAMETERS,
                                       prepare_only=True, kernel_name="python3", progress_bar=False)
        else:  # solution notebooks without parameters are already quick
            shutil.copyfile(ROOT / relative, target)
        written.append(target)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] != "prepare":
        sys.exit("usage: python tests/notebook_pipeline.py prepare")
    for path in prepare():
        print(f"prepared {path.relative_to(ROOT)}")
