"""Hidden tests written as ordinary nbgrader code, run by the grader outside the sandbox.

Most exercises keep their hidden tests in the solution notebook, written
with :func:`genai_grading.checks.check_function`. At grading time those
lines never run in the student's kernel. After the kernel has run the
student's notebook, the grader executes every test cell of the *source*
notebook here, in its own process, where

* the student's functions are stand-ins (:class:`StudentFunction`) that send
  their arguments into the sandboxed kernel, call the student's code there,
  and bring back plain arrays (never a pickle from the student's side);
* the reference functions are the real ones: they run here, out of the
  student's reach;
* :func:`~genai_genai_grading.checks.grading_generator` is seeded from the
  instructor's secret and the submission.

A test cell that raises here scores 0; one that finishes scores its points.
Nothing the student's process does can change that: it only ever returns
numbers.
"""

from __future__ import annotations

import ast
import base64
import io
import json
import time
import traceback
from typing import Any

import torch

from genai_grading import checks, wire
from genai_grading.harness import MIME

HIDDEN_START = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"


class StudentCallError(AssertionError):
    """The student's function raised, or called something forbidden, inside the sandbox."""


def hidden_part(source: str) -> str:
    if HIDDEN_START not in source:
        return ""
    return source.split(HIDDEN_START, 1)[1].split(HIDDEN_END, 1)[0]


def visible_part(source: str) -> str:
    return source.split(HIDDEN_START, 1)[0] + (source.split(HIDDEN_END, 1)[1] if HIDDEN_END in source else "")


def defined_functions(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _reduce_student(name: str):
    from genai_grading.harness import lookup_student

    return lookup_student, (name,)


class KernelLink:
    """Synchronous calls into the running kernel over a blocking client."""

    def __init__(self, km, timeout: float):
        self.kc = km.blocking_client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        self.timeout = timeout
        self.calls = 0

    def call(self, name: str, args: tuple, kwargs: dict, forbidden: list[str]) -> Any:
        buffer = io.BytesIO()
        torch.save({"args": args, "kwargs": kwargs, "rng": torch.get_rng_state(), "forbidden": forbidden}, buffer)
        blob = base64.b64encode(buffer.getvalue()).decode()
        code = (f"__import__('genai_grading.harness').harness.bridge_call({name!r}, {blob!r}, globals())")
        msg_id = self.kc.execute(code, silent=False, store_history=False, allow_stdin=False)
        self.calls += 1
        payload = None
        deadline = time.monotonic() + self.timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kc.shutdown() if False else None
                raise StudentCallError(f"{name} did not return within {self.timeout:.0f} s")
            try:
                msg = self.kc.get_iopub_msg(timeout=min(remaining, 5))
            except Exception:
                if not self.kc.is_alive():
                    raise StudentCallError(f"the kernel stopped while {name} ran") from None
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind in ("display_data", "execute_result") and MIME in msg["content"].get("data", {}):
                payload = msg["content"]["data"][MIME]
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                break
        if payload is None:
            raise StudentCallError(f"{name}: no result came back from the notebook")
        try:
            data = wire.from_message(payload)
        except wire.WireError as err:
            raise StudentCallError(f"{name}: the result could not be read ({err})") from None
        if not data.get("defined"):
            raise StudentCallError(f"{name} is not defined: write it in the solution cell above")
        record = data["results"][0]
        if record.get("forbidden"):
            raise StudentCallError(f"{name} calls {', '.join(record['forbidden'])}, which this task forbids: "
                                   "write the computation yourself")
        if not record.get("ok"):
            error = str(record.get("error", ""))
            if error.startswith("NotImplementedError"):
                raise NotImplementedError(error)
            raise StudentCallError(f"{name} raised {error}")
        # in-place updates of tensor and module arguments reach the grader's copies
        after = record.get("args_after", [])
        from genai_grading.harness import _modules, _tensors

        for target, value in zip(_tensors((args, kwargs)), after):
            if isinstance(value, torch.Tensor) and value.shape == target.shape:
                with torch.no_grad():
                    target.copy_(value.to(target.dtype))
        for module, state in zip(_modules((args, kwargs)), record.get("modules_after", [])):
            if isinstance(state, dict):
                module.load_state_dict(state)
        if isinstance(record.get("rng_after"), torch.Tensor):
            torch.set_rng_state(record["rng_after"])
        return record.get("output")


class StudentFunction:
    """Stands for the student's function in the grader's process; calls it in the sandbox."""

    def __init__(self, name: str, link: KernelLink, forbidden: list[str]):
        self.__name__ = self.__qualname__ = name
        self._link, self._forbidden = link, forbidden

    def __call__(self, *args, **kwargs):
        return self._link.call(self.__name__, args, kwargs, self._forbidden)

    def __reduce__(self):
        return _reduce_student(self.__name__)

    def __repr__(self) -> str:
        return f"<your function {self.__name__}>"


def run_hidden_tests(source_nb, link: KernelLink, seeds: dict[str, int], forbidden: dict[str, list[str]],
                     skip: set[str]) -> dict[str, dict]:
    """Run every test cell of ``source_nb`` here, with stand-ins for the student's functions.

    Returns ``{grade_id: {"passed": bool, "message": str, "detail": str}}``
    for every graded cell not in ``skip`` (cells graded another way).
    """
    namespace: dict[str, Any] = {"__name__": "__grading__"}
    results: dict[str, dict] = {}
    student_names: list[str] = []
    for cell in source_nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            student_names += defined_functions(cell.source)
            continue
        if not meta.get("grade"):
            try:
                exec(compile(cell.source, "<course cell>", "exec"), namespace)  # the course's own set-up code
            except Exception as err:
                raise RuntimeError(f"a locked cell of the source notebook failed in the grader: {err!r}") from err
            continue
        grade_id = meta.get("grade_id")
        if grade_id in skip:
            continue
        names = forbidden.get(grade_id, [])
        for name in student_names:
            namespace[name] = StudentFunction(name, link, names)
        checks.set_seed_base(seeds.get(grade_id), grade_id)
        try:
            exec(compile(cell.source, f"<test cell {grade_id}>", "exec"), namespace)
        except NotImplementedError:
            results[grade_id] = {"passed": False, "message": "not implemented yet (it raised NotImplementedError)",
                                 "detail": ""}
        except AssertionError as err:
            results[grade_id] = {"passed": False, "message": _student_message(str(err)),
                                 "detail": traceback.format_exc(limit=3)}
        except Exception as err:
            results[grade_id] = {"passed": False, "message": f"the tests raised {type(err).__name__}: "
                                 f"{_student_message(str(err))}", "detail": traceback.format_exc(limit=5)}
        else:
            results[grade_id] = {"passed": True, "message": "all hidden tests passed", "detail": ""}
        finally:
            checks.set_seed_base(None, "")
    return results


def _student_message(text: str) -> str:
    """The first line of a failure, with the numbers of expected values removed."""
    line = (text.strip().splitlines() or [""])[0]
    if "expected" in line and ("got" in line or "difference" in line):
        head = line.split("(largest difference")[0].split(": expected")[0]
        return head.rstrip(": ") + ": the values differ from the reference beyond the tolerance"
    return line[:400]
