"""Unit tests of the sandboxed grader's parts that need no kernel (issue 8, work in progress).

The wire format never unpickles and rejects malformed payloads; the static
scan finds library shortcuts and torch aliases; submissions with symbolic
links, special files, bad names or absurd JSON are refused before anything
parses them; the notebook the grader executes takes only the student's
solution code, never the model answer or the student's test cells.
"""

from __future__ import annotations

import json
import os

import nbformat
import pytest
import torch

from genai_grading import similarity, wire
from genai_grading.scan import find_forbidden
from genai_grading.submissions import Refused, build_graded_notebook, inspect_submission, parse_notebook


def test_wire_round_trip_keeps_structure_dtype_and_requires_grad():
    value = {"a": (torch.arange(6, dtype=torch.float32).reshape(2, 3), 2.5, float("inf"), None, True),
             "b": [torch.tensor([1, 2]), "text", torch.float64],
             "c": torch.zeros(0), "d": torch.randn(3, dtype=torch.float64).requires_grad_(True)}
    back = wire.loads(*wire.dumps(value))
    assert torch.equal(back["a"][0], value["a"][0]) and back["a"][0].dtype == torch.float32
    assert back["a"][1:] == (2.5, float("inf"), None, True)
    assert back["b"][1:] == ["text", torch.float64] and torch.equal(back["b"][0], value["b"][0])
    assert back["d"].requires_grad and back["d"].dtype == torch.float64


@pytest.mark.parametrize("tree, blob", [(b"{not json", b""), (b'{"t": "tensor", "k": "missing"}', b""),
                                        (b'{"t": "object", "v": 1}', b""), (b'{"t": "none"}', b"\x00garbage"),
                                        (b'{"t": "dtype", "v": "__class__"}', b""),
                                        (b"[" * 5000 + b"]" * 5000, b"")])
def test_wire_rejects_malformed_payloads(tree, blob):
    with pytest.raises(wire.WireError):
        wire.loads(tree, blob)


def test_wire_marks_objects_it_cannot_carry():
    back = wire.loads(*wire.dumps({"f": lambda x: x}))
    assert isinstance(back["f"], wire.Unsupported)


def test_scan_finds_shortcuts_and_aliases():
    code = ("import torch\nimport torch.nn.functional as F\nfrom torch import lstm_cell as lc\n"
            "def f(x, h, w):\n    a = F.batch_norm(x)\n    b = x.sigmoid()\n    c = torch._VF.gru_cell(x)\n"
            "    d = torch.ops.aten.convolution(x)\n    return lc(x, h, w)\n")
    found = find_forbidden(code, ["torch.nn.functional.batch_norm", "Tensor.sigmoid", "torch.lstm_cell",
                                  "torch.convolution"])
    assert {"torch.nn.functional.batch_norm", "Tensor.sigmoid", "torch.lstm_cell", "torch.convolution"} <= set(found)
    assert any("_VF" in f for f in found) and any("aten" in f for f in found)
    honest = "def sigmoid(x):\n    e = torch.exp(-torch.where(x >= 0, x, -x))\n    return 1 / (1 + e)\n"
    assert find_forbidden(honest, ["torch.sigmoid", "Tensor.sigmoid"]) == []


def test_similarity_ignores_renaming_but_not_different_code():
    a = "def f(x):\n    e = torch.exp(-x)\n    s = e.sum(dim=-1, keepdim=True)\n    return e / s + torch.log(s) * 2\n"
    b = ("def h(y):\n    q = torch.exp(-y)\n    t = q.sum(dim=-1, keepdim=True)\n"
         "    return q / t + torch.log(t) * 2\n")
    c = "def g(z):\n    m = z.amax(dim=-1, keepdim=True)\n    w = torch.exp(z - m)\n    return w / w.sum(dim=-1, keepdim=True)\n"
    fa, fb, fc = (similarity.fingerprint(x) for x in (a, b, c))
    assert similarity.similarity(fa, fb) == 1.0
    assert similarity.similarity(fa, fc) < similarity.THRESHOLD


def _submission(tmp_path, name="toy"):
    folder = tmp_path / "submitted" / "alice" / name
    folder.mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nbformat.write(nb, folder / f"{name}.ipynb")
    return folder


def test_symbolic_links_and_special_files_are_refused(tmp_path):
    folder = _submission(tmp_path)
    (tmp_path / "gradebook.db").write_text("secret scores")
    os.symlink("../../../gradebook.db", folder / "notes.txt")
    with pytest.raises(Refused, match="symbolic link"):
        inspect_submission(folder, "alice", "toy", "toy.ipynb")
    (folder / "notes.txt").unlink()
    os.mkfifo(folder / "pipe")
    with pytest.raises(Refused, match="not a regular file"):
        inspect_submission(folder, "alice", "toy", "toy.ipynb")
    (folder / "pipe").unlink()
    assert inspect_submission(folder, "alice", "toy", "toy.ipynb").data


@pytest.mark.parametrize("student", ["..", "a/b", "../x", ".hidden", "x" * 80])
def test_bad_names_are_refused(tmp_path, student):
    with pytest.raises(Refused, match="not allowed"):
        inspect_submission(tmp_path, student, "toy", "toy.ipynb")


def test_absurd_notebooks_are_refused():
    with pytest.raises(Refused, match="nested deeper"):
        parse_notebook(("{" + '"a": [' * 100 + "]" * 100 + "}").encode())
    with pytest.raises(Refused, match="not valid JSON"):
        parse_notebook(b"{this is not json")
    with pytest.raises(Refused, match="not a Jupyter notebook"):
        parse_notebook(json.dumps({"cells": 3}).encode())


def _cell(kind, source, **nbgrader):
    cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
    if nbgrader:
        cell.metadata["nbgrader"] = {"schema_version": 3, **nbgrader}
    return cell


def test_graded_notebook_takes_only_the_students_solution_code():
    source = nbformat.v4.new_notebook()
    source.cells = [_cell("code", "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
                          grade_id="f", solution=True, grade=False, locked=False),
                    _cell("code", "assert f(1) == 2\n### BEGIN HIDDEN TESTS\ncheck()\n### END HIDDEN TESTS",
                          grade_id="test_f", grade=True, points=2, solution=False, locked=True),
                    _cell("code", "def g(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION",
                          grade_id="g", solution=True, grade=False, locked=False)]
    student = nbformat.v4.new_notebook()
    student.cells = [_cell("code", "def f(x):\n    return x + x", grade_id="f", solution=True, grade=False),
                     _cell("code", "pass  # I deleted the test", grade_id="test_f", grade=True, points=100),
                     _cell("code", "import os  # added by the student")]
    graded = build_graded_notebook(source, student)
    sources = [c.source for c in graded.cells]
    assert sources[0] == "def f(x):\n    return x + x"
    assert sources[1].startswith("assert f(1) == 2") and "check()" not in sources[1]
    assert graded.cells[1].metadata["nbgrader"]["points"] == 2
    assert sources[2] == "import os  # added by the student"
    assert "return x" not in sources[3] and "NotImplementedError" in sources[3]
