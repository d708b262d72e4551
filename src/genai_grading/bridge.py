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
import builtins
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


def _portable(value: Any) -> Any:
    """A copy of the arguments that pickles: tensors detached (keeping requires_grad), containers rebuilt."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone().requires_grad_(value.requires_grad and value.is_floating_point())
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_portable(v) for v in value)
    if isinstance(value, list):
        return [_portable(v) for v in value]
    if isinstance(value, dict):
        return {k: _portable(v) for k, v in value.items()}
    return value


class KernelLink:
    """Synchronous calls into the running kernel over a blocking client."""

    def __init__(self, km, timeout: float, blocked: list[str] | None = None):
        import sys as _sys

        # Modules whose graded functions are absent from the sandbox: objects from them that the tests
        # hand to the student's code (a reference cell for an unroll, a flow built from reference layers)
        # travel by value, so that they still work there.
        self.by_value = sorted({name.rsplit(".", 1)[0] for name in (blocked or [])} & set(_sys.modules))
        self.km = km
        self.kc = km.blocking_client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        self.timeout = timeout
        self.calls = 0

    def request(self, name: str, request: dict) -> dict:
        """Send one request to ``harness.bridge_call`` and return the decoded record."""
        import cloudpickle

        import sys as _sys

        buffer = io.BytesIO()
        for module in self.by_value:
            cloudpickle.register_pickle_by_value(_sys.modules[module])
        try:
            torch.save(request, buffer, pickle_module=cloudpickle)
        finally:
            for module in self.by_value:
                cloudpickle.unregister_pickle_by_value(_sys.modules[module])
        blob = base64.b64encode(buffer.getvalue()).decode()
        code = f"__import__('genai_grading.harness').harness.bridge_call({name!r}, {blob!r}, globals())"
        msg_id = self.kc.execute(code, silent=False, store_history=False, allow_stdin=False)
        self.calls += 1
        payload = None
        deadline = time.monotonic() + self.timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._interrupt(msg_id)
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
        if not isinstance(data, dict) or not data.get("defined"):
            raise StudentCallError(f"{name} is not defined: write it in the solution cell above")
        record = data["results"][0]
        if record.get("forbidden"):
            raise StudentCallError(f"{name} calls {', '.join(record['forbidden'])}, which this task forbids: "
                                   "write the computation yourself")
        if not record.get("ok"):
            error = str(record.get("error", ""))
            kind, _, message = error.partition(": ")
            if kind == "NotImplementedError":
                raise NotImplementedError(error)
            builtin = getattr(builtins, kind, None)
            if isinstance(builtin, type) and issubclass(builtin, Exception) and builtin is not AssertionError:
                raise builtin(message)  # the tests may expect this type (a ValueError for bad input)
            raise StudentCallError(f"{name} raised {error}")
        return record

    def _interrupt(self, msg_id: str) -> None:
        """Stop a call that ran past its time, so that the kernel can serve the next test."""
        try:
            from jupyter_core.utils import run_sync

            run_sync(self.km.interrupt_kernel)()
        except Exception:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                msg = self.kc.get_iopub_msg(timeout=1)
            except Exception:
                continue
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status" \
                    and msg["content"]["execution_state"] == "idle":
                return

    def call(self, name: str, args: tuple, kwargs: dict, forbidden: list[str], differentiable: bool = False,
             call_id: int = 0) -> dict:
        record = self.request(name, {"args": _portable(args), "kwargs": _portable(kwargs),
                                     "rng": torch.get_rng_state(), "forbidden": forbidden,
                                     "differentiable": differentiable, "call_id": call_id})
        # in-place updates of tensor and module arguments reach the grader's copies
        from genai_grading.harness import _modules, _tensors

        for target, value in zip(_tensors((args, kwargs)), record.get("args_after", [])):
            if isinstance(value, torch.Tensor) and value.shape == target.shape and not torch.equal(
                    value.to(target.dtype), target.detach()):
                with torch.no_grad():
                    target.copy_(value.to(target.dtype))
        for module, state in zip(_modules((args, kwargs)), record.get("modules_after", [])):
            if isinstance(state, dict):
                with torch.no_grad():
                    for key, value in state.items():
                        current = module.state_dict()[key]
                        if isinstance(value, torch.Tensor) and not torch.equal(value.to(current.dtype), current):
                            current.copy_(value.to(current.dtype))
        if isinstance(record.get("rng_after"), torch.Tensor):
            torch.set_rng_state(record["rng_after"])
        return record

    def backward(self, name: str, call_id: int, grads: list) -> list:
        record = self.request(name, {"mode": "backward", "call_id": call_id, "grads": grads})
        return record.get("output") or []


def _flatten(value: Any, out: list) -> Any:
    """Replace every tensor of ``value`` by its index in ``out`` (appending it)."""
    if isinstance(value, torch.Tensor):
        out.append(value)
        return _Slot(len(out) - 1)
    if isinstance(value, (list, tuple)):
        return type(value)(_flatten(v, out) for v in value)
    if isinstance(value, dict):
        return {k: _flatten(v, out) for k, v in value.items()}
    return value


def _fill(value: Any, tensors: tuple) -> Any:
    if isinstance(value, _Slot):
        return tensors[value.index]
    if isinstance(value, (list, tuple)):
        return type(value)(_fill(v, tensors) for v in value)
    if isinstance(value, dict):
        return {k: _fill(v, tensors) for k, v in value.items()}
    return value


class _Slot:
    def __init__(self, index: int):
        self.index = index


class _ThroughKernel(torch.autograd.Function):
    """One call of the student's function, differentiable: backward asks the kernel for the VJP."""

    @staticmethod
    def forward(ctx, student, args, kwargs, holder, *inputs):
        student._counter += 1
        call_id = student._counter
        record = student._link.call(student.__name__, args, kwargs, student._forbidden, differentiable=True,
                                    call_id=call_id)
        flat: list = []
        holder["tree"] = _flatten(record.get("output"), flat)
        needs = record.get("output_requires_grad", [])
        ctx.student, ctx.call_id, ctx.n_inputs = student, call_id, len(inputs)
        outputs = tuple(t.clone() for t in flat)
        ctx.mark_non_differentiable(*[t for t, rg in zip(outputs, needs) if not rg])
        holder["requires_grad"] = needs
        return outputs

    @staticmethod
    def backward(ctx, *grads):
        grads = [None if g is None else g.detach() for g in grads]
        result = ctx.student._link.backward(ctx.student.__name__, ctx.call_id, grads)
        result = list(result) + [None] * (ctx.n_inputs - len(result))
        return (None, None, None, None, *result[:ctx.n_inputs])


class StudentFunction:
    """Stands for the student's function in the grader's process; calls it in the sandbox."""

    def __init__(self, name: str, link: KernelLink, forbidden: list[str]):
        self.__name__ = self.__qualname__ = name
        self._link, self._forbidden = link, forbidden
        self._counter = 0

    def __call__(self, *args, **kwargs):
        from genai_grading.harness import _grad_inputs

        inputs = _grad_inputs(args, kwargs) if torch.is_grad_enabled() else []
        if not inputs:
            self._counter += 1
            return self._link.call(self.__name__, args, kwargs, self._forbidden).get("output")
        holder: dict = {}
        outputs = _ThroughKernel.apply(self, args, kwargs, holder, *inputs)
        if not isinstance(outputs, tuple):
            outputs = (outputs,)
        outputs = tuple(o if rg else o.detach() for o, rg in zip(outputs, holder["requires_grad"]))
        return _fill(holder["tree"], outputs)

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
    graded = [i for i, c in enumerate(source_nb.cells) if c.metadata.get("nbgrader", {}).get("grade")]
    last_graded = graded[-1] if graded else -1
    for index, cell in enumerate(source_nb.cells):
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            student_names += defined_functions(cell.source)
            continue
        if not meta.get("grade"):
            if index > last_graded:
                continue  # demonstrations after the last test decide nothing: not run by the grader
            try:
                exec(compile(cell.source, "<course cell>", "exec"), namespace)  # the course's own set-up code
            except Exception:  # the tests that need what it defines fail on their own; the others still count
                pass
            continue
        grade_id = meta.get("grade_id")
        if grade_id in skip:
            continue
        names = short_names(forbidden.get(grade_id, []))
        for name in student_names:
            namespace[name] = StudentFunction(name, link, names)
        checks.set_seed_base(seeds.get(grade_id), grade_id)
        try:
            exec(compile(cell.source, f"<test cell {grade_id}>", "exec"), namespace)
        except NotImplementedError:
            results[grade_id] = {"passed": False, "message": "not implemented yet (it raised NotImplementedError)",
                                 "detail": ""}
        except AssertionError as err:
            results[grade_id] = {"passed": False, "message": _student_message(str(err)) or "a test of this cell failed",
                                 "detail": traceback.format_exc(limit=3)}
        except Exception as err:
            results[grade_id] = {"passed": False, "message": f"the tests raised {type(err).__name__}: "
                                 f"{_student_message(str(err))}", "detail": traceback.format_exc(limit=5)}
        else:
            results[grade_id] = {"passed": True, "message": "all hidden tests passed", "detail": ""}
        finally:
            checks.set_seed_base(None, "")
    return results


def short_names(names: list[str]) -> list[str]:
    """What the runtime guard matches: the last component of each name, plus the kernels' aliases."""
    from genai_grading.verdict import ALIASES

    short = {name.rsplit(".", 1)[-1] for name in names}
    for name in list(short):
        short.update(ALIASES.get(name, []))
    return sorted(short)


def answer_cells(source_nb) -> dict[str, list[str]]:
    """Test cell grade_id -> the grade_ids of the solution cells since the previous test cell."""
    result, pending = {}, []
    for cell in source_nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and not meta.get("grade"):
            pending.append(meta.get("grade_id"))
        elif meta.get("grade"):
            result[meta.get("grade_id")] = pending
            pending = []
    return result


def _student_message(text: str) -> str:
    """The first line of a failure, with the numbers of expected values removed."""
    line = (text.strip().splitlines() or [""])[0]
    if "expected" in line and ("got" in line or "difference" in line):
        head = line.split("(largest difference")[0].split(": expected")[0]
        return head.rstrip(": ") + ": the values differ from the reference beyond the tolerance"
    return line[:400]
