"""House rules for the committed notebooks (see conventions: clean notebooks, parameters cell)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from notebook_pipeline import ROOT, chapter_notebooks

NOTEBOOKS = sorted(p.relative_to(ROOT) for folder in ("book", "solutions", "exercises")
                   for p in (ROOT / folder).rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_notebook_is_committed_clean(path: Path):
    nb = nbformat.read(ROOT / path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", f"{path}: kernelspec must be python3"
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path}: cell {index} has outputs"


def _outside_fences(markdown: str) -> list[str]:
    lines, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


@pytest.mark.parametrize("path", chapter_notebooks(), ids=str)
def test_chapter_has_parameters_and_one_title(path: Path):
    nb = nbformat.read(ROOT / path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path}: expected exactly one cell tagged 'parameters'"
    for name in ("QUICK", "DEVICE", "SEED"):
        assert f"{name} =" in tagged[0].source, f"{path}: the parameters cell must set {name}"
    titles = [line for c in nb.cells if c.cell_type == "markdown" for line in _outside_fences(c.source)
              if line.startswith("# ")]
    assert len(titles) == 1, f"{path}: expected one '# ' title, found {titles}"
    assert path.stem in {p.name for p in (ROOT / "solutions").iterdir()}, f"{path}: no exercise in solutions/"
