"""A small assignment made for the grading tests, and submissions that attack the grader.

``make_course`` writes a course folder with one assignment, ``toy``, whose
three tasks use both kinds of hidden test: two are task specs (the kernel
calls the student's function on the grader's inputs; one of them has a
package function as its reference, so calling the package earns nothing),
the third is an ordinary ``check_function`` hidden test that the grader runs
in its own process with stand-ins. ``SUBMISSIONS`` maps a student name to
what they hand in and the score that must come out.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
POINTS = {"test_double": 2, "test_soft": 3, "test_square": 1}
MAX_SCORE = sum(POINTS.values())

TASKS_MODULE = '''
"""Tasks of the test assignment 'toy'."""
import torch
from genai_foundations.architectures.activations import softmax
from genai_grading.tasks import Case, Task


def _double(x):
    return 2 * x


def double_cases(gen):
    return [Case(torch.randn(5, generator=gen, dtype=torch.float64)),
            Case(torch.randn(2, 3, generator=gen))]


def soft_cases(gen):
    return [Case(4 * torch.randn(3, 4, generator=gen, dtype=torch.float64)),
            Case(torch.tensor([1000.0, 0.0, -1000.0]))]


TASKS = [
    Task("test_double", "double", _double, double_cases, atol=1e-12, rtol=1e-9),
    Task("test_soft", "soft", softmax, soft_cases, atol=1e-9, rtol=1e-6,
         forbidden=("torch.softmax", "Tensor.softmax", "torch.nn.functional.softmax", "torch.special.softmax",
                    "torch._softmax", "torch.log_softmax", "torch.nn.functional.log_softmax")),
]
FORBIDDEN = {"test_square": ["torch.square", "Tensor.square", "torch.pow"]}
'''

GOOD = {
    "double": "def double(x):\n    return x + x",
    "soft": "def soft(z):\n    e = torch.exp(z - z.amax(dim=-1, keepdim=True))\n    return e / e.sum(dim=-1, keepdim=True)",
    "square": "def square(x):\n    return x * x",
}


def _cell(kind: str, source: str, **nbgrader) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
    if nbgrader:
        cell.metadata["nbgrader"] = {"schema_version": 3, "task": False, **nbgrader}
    return cell


def source_notebook() -> nbformat.NotebookNode:
    def solution(name):
        body = GOOD[name].split("\n", 1)
        return body[0] + "\n    ### BEGIN SOLUTION\n" + body[1] + "\n    ### END SOLUTION"

    def test(gid, visible, hidden):
        return _cell("code", visible + "\n### BEGIN HIDDEN TESTS\n" + hidden + "\n### END HIDDEN TESTS",
                     grade=True, solution=False, locked=True, points=POINTS[gid], grade_id=gid)

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        _cell("markdown", "# A test assignment", grade=False, solution=False, locked=True, grade_id="intro"),
        _cell("code", "import torch", grade=False, solution=False, locked=True, grade_id="setup"),
        _cell("code", solution("double"), grade=False, solution=True, locked=False, grade_id="double"),
        test("test_double", "assert float(double(torch.tensor(2.0))) == 4.0",
             'from genai_grading.harness import grade_task\ngrade_task("toy", "test_double", globals())'),
        _cell("code", solution("soft"), grade=False, solution=True, locked=False, grade_id="soft"),
        test("test_soft", "assert soft(torch.zeros(2, 3)).shape == (2, 3)",
             'from genai_grading.harness import grade_task\ngrade_task("toy", "test_soft", globals())'),
        _cell("code", solution("square"), grade=False, solution=True, locked=False, grade_id="square"),
        test("test_square", "assert float(square(torch.tensor(3.0))) == 9.0",
             "from genai_grading.checks import Case, check_function, grading_generator\n"
             "_gen = grading_generator()\n"
             "check_function(square, lambda v: v * v, [Case(torch.randn(4, generator=_gen)) for _ in range(3)])"),
    ]
    return nb


def make_course(tmp: Path) -> Path:
    root = tmp / "course"
    (root / "solutions" / "toy").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", root)
    nbformat.write(source_notebook(), root / "solutions" / "toy" / "toy.ipynb")
    tasks = tmp / "tasks"
    tasks.mkdir()
    (tasks / "toy.py").write_text(TASKS_MODULE)
    return root


def released(root: Path) -> dict:
    return json.loads((root / "exercises" / "toy" / "toy.ipynb").read_text())


def fill(release_nb: dict, answers: dict[str, str], before: str | None = None, after: str | None = None) -> dict:
    """The released notebook with the given solution cells filled in, optional cells added first/last."""
    nb = json.loads(json.dumps(release_nb))
    for cell in nb["cells"]:
        gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell["source"] = answers[gid]
    if before:
        nb["cells"].insert(2, nbformat.v4.new_code_cell(before))
    if after:
        nb["cells"].append(nbformat.v4.new_code_cell(after))
    return nb


def d(text: str) -> str:
    return textwrap.dedent(text).strip("\n")
