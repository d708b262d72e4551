"""How an exercise's graded tasks are described.

Each assignment has a module ``genai_grading.assignments.<slug>`` (the slug
with ``-`` written as ``_``) that defines ``TASKS``, a list of :class:`Task`.
A task names the test cell it scores (its nbgrader ``grade_id``), the
student's function, the reference that computes the expected output, a
function that draws the inputs from a random generator, the tolerances, and
the shortcuts it forbids.

The hidden part of the test cell in ``solutions/`` is one line::

    grade_task("mlp", "test_sigmoid", globals())

It holds no inputs and no seed. At grading time the grader draws the inputs
from a per-submission seed (see :mod:`genai_grading.secrets`), the kernel
only calls the student's function on them, and the comparison happens
outside the sandbox (:mod:`genai_grading.verdict`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch

# Names that reach the same ATen kernels as the public torch functions; a task
# that forbids ``torch.X`` forbids them too (see guard.py for the runtime side).
ALIAS_MARKERS = ("_VF", "_VariableFunctions", "ops.aten", "torch.ops", "_functional")


@dataclass
class Case:
    """One call of the student's function: positional and keyword arguments, and a label.

    Arguments may be tensors, numbers, strings, nested lists/tuples/dicts of
    them, or :class:`genai_grading.wire.Build` placeholders for objects.
    """

    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    label: str = ""

    def __init__(self, *args: Any, label: str = "", **kwargs: Any):
        self.args, self.kwargs, self.label = args, kwargs, label


@dataclass
class Task:
    """One graded task of an exercise (see the module docstring)."""

    grade_id: str
    function: str
    reference: Callable[..., Any]
    cases: Callable[[torch.Generator], Sequence[Case]]
    atol: float = 1e-5
    rtol: float = 1e-4
    forbidden: tuple[str, ...] = ()
    blocked: tuple[str, ...] = ()
    check_dtype: bool = True
    check_inplace: bool = True
    gradient: bool = False
    reseed: bool = False
    default_dtype: torch.dtype | None = None
    description: str = ""

    def blocked_names(self) -> list[str]:
        """Package functions made unavailable inside the sandbox: the reference and ``blocked``."""
        names = list(self.blocked)
        module = getattr(self.reference, "__module__", "") or ""
        if module.startswith("genai_foundations"):
            names.append(f"{module}.{self.reference.__qualname__}")
        return names

    def forbidden_short_names(self) -> list[str]:
        """The last component of each forbidden name (what the runtime guard matches)."""
        return sorted({name.rsplit(".", 1)[-1] for name in self.forbidden})


def module_name(assignment: str) -> str:
    return "genai_grading.assignments." + assignment.replace("-", "_")


TASKS_DIR_ENV = "GENAI_GRADING_TASKS_DIR"


def _import(assignment: str):
    """The assignment's task module: from ``$GENAI_GRADING_TASKS_DIR/<slug>.py`` if there, else the package."""
    import importlib.util
    import os
    import sys
    from pathlib import Path

    name = module_name(assignment)
    for folder in filter(None, os.environ.get(TASKS_DIR_ENV, "").split(os.pathsep)):
        path = Path(folder) / (assignment.replace("-", "_") + ".py")
        if path.is_file():
            if name not in sys.modules or getattr(sys.modules[name], "__file__", None) != str(path):
                spec = importlib.util.spec_from_file_location(name, path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                spec.loader.exec_module(module)
            return sys.modules[name]
    return importlib.import_module(name)


def load_tasks(assignment: str) -> list[Task]:
    """The tasks of an assignment; a clear error when the assignment has no grading module."""
    module = assignment_module(assignment)
    tasks = list(getattr(module, "TASKS", [])) if module is not None else []
    ids = [t.grade_id for t in tasks]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{module_name(assignment)}: duplicate grade_id in TASKS: {ids}")
    return tasks


def assignment_module(assignment: str):
    """The assignment's grading module, or None when it has none (its hidden tests then say everything)."""
    try:
        return _import(assignment)
    except ModuleNotFoundError as err:
        if err.name == module_name(assignment):
            return None
        raise


def forbidden_by_cell(assignment: str) -> dict[str, list[str]]:
    """``FORBIDDEN`` of the assignment's module: test cell grade_id -> forbidden names (for hidden tests)."""
    module = assignment_module(assignment)
    return {k: list(v) for k, v in (getattr(module, "FORBIDDEN", {}) or {}).items()} if module else {}


def blocked_by_assignment(assignment: str) -> list[str]:
    """``BLOCKED`` of the assignment's module: further package functions or classes absent from the sandbox."""
    module = assignment_module(assignment)
    return list(getattr(module, "BLOCKED", []) or []) if module else []


def find_task(assignment: str, grade_id: str) -> Task:
    for task in load_tasks(assignment):
        if task.grade_id == grade_id:
            return task
    raise LookupError(f"assignment {assignment!r} has no graded task {grade_id!r}")
