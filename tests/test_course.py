"""The instructor's command line: clear errors for a wrong folder, the refusal without a sandbox, ``check``.

The grading of misbehaving and hostile submissions is in ``tests/grading/``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from genai_foundations.course import CourseError, main, release
from genai_grading import grader, sandbox

ROOT = Path(__file__).resolve().parent.parent


def test_clear_errors_for_a_wrong_folder(tmp_path, capsys):
    with pytest.raises(CourseError, match="not a course folder"):
        release(tmp_path)
    assert main(["--root", str(tmp_path), "release"]) == 2
    assert "expected nbgrader_config.py" in capsys.readouterr().err


def _course(tmp_path: Path, assignment: str = "mlp") -> Path:
    root = tmp_path / "course"
    (root / "solutions").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", root)
    shutil.copytree(ROOT / "solutions" / assignment, root / "solutions" / assignment)
    return root


def test_unknown_assignment_is_reported(tmp_path):
    with pytest.raises(CourseError, match="unknown assignment"):
        release(_course(tmp_path), ["nope"])


def test_grading_refuses_without_a_sandbox(tmp_path, monkeypatch, capsys):
    root = _course(tmp_path)
    (root / "submitted" / "alice" / "mlp").mkdir(parents=True)

    def unavailable():
        raise sandbox.SandboxUnavailable("bubblewrap is not installed")

    monkeypatch.setattr(sandbox, "check", unavailable)
    with pytest.raises(CourseError, match="grading refused: bubblewrap is not installed.*--unsafe-no-sandbox"):
        grader.grade(root, quiet=True)
    assert main(["--root", str(root), "grade"]) == 2
    assert "--unsafe-no-sandbox" in capsys.readouterr().err
    assert not (root / "gradebook.db").exists() or not (root / "autograded").exists()


def test_check_reports_what_would_lose_points(tmp_path, capsys):
    """A student's notebook with a forbidden call and a cell that raises: `check` lists both."""
    root = _course(tmp_path)
    release(root, ["mlp"])
    nb = json.loads((root / "exercises" / "mlp" / "mlp.ipynb").read_text())
    for cell in nb["cells"]:
        gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if gid == "sigmoid":
            cell["source"] = "def sigmoid(x):\n    return torch.sigmoid(x)"
    path = tmp_path / "mlp.ipynb"
    path.write_text(json.dumps(nb))
    assert main(["--root", str(root), "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "sigmoid uses" in out and "sigmoid" in out.split("sigmoid uses")[1] and "forbids" in out
    assert "NotImplementedError" in out  # the tasks left undone raise in their test cells
