"""The verdict on one task, decided outside the sandbox.

:func:`make_request` draws a task's inputs from a seed and writes what the
kernel needs to call the student's function; :func:`judge` compares what
came back with the reference computed here, on the same inputs. Nothing the
student's process did can change the reference or the comparison: it only
ever handed over plain arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from genai_grading import wire
from genai_grading.compare import Mismatch, compare
from genai_grading.harness import _clone, _tensors, gradients
from genai_grading.tasks import Case, Task

ALIASES = {"convolution": ["_convolution", "convolution_overrideable", "conv2d", "conv1d", "conv3d"],
           "batch_norm": ["native_batch_norm", "_batch_norm_impl_index", "batch_norm_stats"],
           "sigmoid": ["expit", "special_expit", "sigmoid_"],
           "lstm_cell": ["_thnn_fused_lstm_cell"], "gru_cell": ["_thnn_fused_gru_cell"]}


@dataclass
class TaskVerdict:
    """A task's outcome: ``message`` goes to the student, ``detail`` only to the instructor."""

    grade_id: str
    passed: bool
    message: str
    detail: str = ""
    n_cases: int = 0
    n_passed: int = 0
    evidence: dict[str, Any] = field(default_factory=dict)


def forbidden_names(task: Task) -> list[str]:
    names = set(task.forbidden_short_names())
    for name in list(names):
        names.update(ALIASES.get(name, []))
    return sorted(names)


def make_request(task: Task, seed: int) -> tuple[dict, list[Case]]:
    """Draw the task's cases from ``seed``; return the kernel's request and the cases."""
    gen = torch.Generator().manual_seed(int(seed) % (2**63))
    cases = list(task.cases(gen))
    if not cases:
        raise ValueError(f"task {task.grade_id} produced no cases")
    request_cases = []
    for index, case in enumerate(cases):
        call_seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen)) if task.reseed else None
        request_cases.append({"args": tuple(case.args), "kwargs": dict(case.kwargs), "seed": call_seed,
                              "cotangent_seed": int(seed) % 100_000 + index})
    request = {"function": task.function, "forbidden": forbidden_names(task), "gradient": task.gradient,
               "cases": request_cases}
    return request, cases


def expected_for(task: Task, case_request: dict) -> tuple[Any, list[Any], list[torch.Tensor]]:
    """The reference's output (and gradients) on a case, and the case's input tensors before the call."""
    args = wire.materialise(_clone(case_request["args"]))
    kwargs = wire.materialise(_clone(case_request["kwargs"]))
    before = [t.detach().clone() for t in _tensors((args, kwargs))]
    if case_request.get("seed") is not None:
        torch.manual_seed(case_request["seed"])
    previous = torch.get_default_dtype()
    if task.default_dtype is not None:
        torch.set_default_dtype(task.default_dtype)
    try:
        output = task.reference(*args, **kwargs)
        grads = gradients(output, args, kwargs, case_request["cotangent_seed"]) if task.gradient else []
    finally:
        torch.set_default_dtype(previous)
    return output, grads, before


def _label(case: Case, index: int) -> str:
    return f"case {index}" + (f" ({case.label})" if case.label else "")


def judge(task: Task, cases: list[Case], request: dict, payload: Any) -> TaskVerdict:
    """Compare the kernel's payload for ``task`` with the reference on the same inputs."""
    name = task.function
    if payload is None:
        return TaskVerdict(task.grade_id, False, f"{name}: no result reached the grader: the test cell did not run "
                           "to its end (an error in the visible tests or earlier, a time-out, or the kernel stopped)")
    if not isinstance(payload, dict) or not payload.get("defined", False):
        return TaskVerdict(task.grade_id, False, f"{name} is not defined: write it in the solution cell above")
    results = payload.get("results")
    if not isinstance(results, list) or len(results) != len(cases):
        return TaskVerdict(task.grade_id, False, f"{name}: the grader received a malformed result")
    failures, details, passed = [], [], 0
    evidence_cases = []
    for index, (case, case_request, result) in enumerate(zip(cases, request["cases"], results)):
        where = f"{name}, {_label(case, index)}"
        expected, expected_grads, before = expected_for(task, case_request)
        entry = {"label": case.label, "inputs": case_request, "expected": expected, "result": result}
        evidence_cases.append(entry)
        if not isinstance(result, dict):
            failures.append(f"{where}: malformed result")
            continue
        forbidden = [str(f) for f in result.get("forbidden", []) if isinstance(f, str)]
        if forbidden:
            return TaskVerdict(task.grade_id, False,
                               f"{name} calls {', '.join(sorted(set(forbidden)))}, which this task forbids: "
                               "the point is to write the computation yourself (0 points for this task)",
                               n_cases=len(cases), evidence={"cases": evidence_cases})
        if not result.get("ok"):
            error = str(result.get("error", ""))[:500]
            failures.append(f"{where}: your function raised {error}")
            details.append(failures[-1])
            continue
        try:
            compare(result.get("output"), expected, where, task.atol, task.rtol, task.check_dtype)
            if task.check_inplace:
                after = result.get("args_after", [])
                if not isinstance(after, list) or len(after) != len(before):
                    raise Mismatch(f"{where}: the grader could not check the inputs after the call")
                for k, (b, a) in enumerate(zip(before, after)):
                    if not isinstance(a, torch.Tensor) or a.shape != b.shape or not torch.equal(a.to(b.dtype), b):
                        raise Mismatch(f"{where}: your function changed its input tensor number {k + 1} in place; "
                                       "it must leave its inputs unchanged")
            if task.gradient:
                compare(result.get("grads"), expected_grads, f"{where}, gradient", task.atol, task.rtol,
                        task.check_dtype)
        except Mismatch as err:
            failures.append(err.student)
            details.append(err.detail)
            continue
        passed += 1
    if failures:
        shown = failures[:3] + ([f"... and {len(failures) - 3} more"] if len(failures) > 3 else [])
        message = f"{name}: {passed} of {len(cases)} hidden cases correct.\n" + "\n".join(shown)
        return TaskVerdict(task.grade_id, False, message, "\n".join(details), len(cases), passed,
                           {"cases": evidence_cases})
    return TaskVerdict(task.grade_id, True, f"{name}: all {len(cases)} hidden cases correct", "",
                       len(cases), passed, {"cases": evidence_cases})
