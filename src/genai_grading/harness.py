"""The hidden tests' side inside the student's kernel: call the answer, send the results back.

A test cell of an exercise ends with one hidden line::

    grade_task("mlp", "test_sigmoid", globals())

When the grader runs the notebook (the environment variable
``GENAI_GRADING_INPUTS`` names a read-only folder of inputs), this function
reads the inputs the grader drew for this submission, calls the student's
function on each of them under the forbidden-call guard, and publishes the
outputs as one display message of type :data:`MIME` (plain arrays, see
:mod:`genai_grading.wire`). It decides nothing: the grader compares the
outputs with the reference after the kernel has finished, outside the
sandbox.

Anywhere else (the instructor's solution notebook executed by the test
suite, an instructor trying a task), it checks the function itself against
the reference on inputs drawn from a fixed public seed and raises
``AssertionError`` with the grader's message when they differ.
"""

from __future__ import annotations

import copy
import hashlib
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from genai_grading import wire
from genai_grading.guard import ForbiddenCallError, ForbiddenCallGuard

MIME = "application/vnd.genai-grading.v1+json"
INPUTS_ENV = "GENAI_GRADING_INPUTS"
MAX_ERROR = 500


def _clone(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone().requires_grad_(value.requires_grad)
    if isinstance(value, (list, tuple, dict)) or isinstance(value, torch.nn.Module):
        return copy.deepcopy(value)
    return value


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    return []


def call_case(fn, args: tuple, kwargs: dict, *, forbidden: list[str], seed: int | None, gradient: bool,
              cotangent_seed: int, keep_graph: bool = False) -> dict:
    """Call ``fn`` once and describe what happened as plain data."""
    record: dict[str, Any] = {"ok": False, "error": "", "forbidden": []}
    guard = ForbiddenCallGuard(forbidden)
    if seed is not None:
        torch.manual_seed(seed)
    try:
        with warnings.catch_warnings(), guard:
            warnings.simplefilter("ignore")
            result = fn(*args, **kwargs)
    except ForbiddenCallError as err:
        record["error"] = f"ForbiddenCallError: {err}"
    except NotImplementedError:
        record["error"] = "NotImplementedError: the function is not implemented yet"
    except Exception as err:  # the student's bug: report it, keep grading the other cases
        record["error"] = f"{type(err).__name__}: {str(err)[:MAX_ERROR]}"
    else:
        record["ok"] = True
        record["output"] = result
        if gradient:
            record["grads"] = gradients(result, args, kwargs, cotangent_seed)
    record["forbidden"] = sorted(set(guard.violations))
    record["args_after"] = [t.detach() for t in _tensors((args, kwargs))]
    if record["ok"]:
        if keep_graph:
            record["output_graph"] = record["output"]
        record["output"] = _detach(record["output"])
    return record


def _detach(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, (list, tuple)):
        return type(value)(_detach(v) for v in value)
    if isinstance(value, dict):
        return {k: _detach(v) for k, v in value.items()}
    return value


def gradients(result: Any, args: tuple, kwargs: dict, cotangent_seed: int) -> list[Any]:
    """d<result, c>/d(inputs that require grad), for a fixed random cotangent c; None where unused."""
    inputs = [t for t in _tensors((args, kwargs)) if t.requires_grad]
    outputs = [t for t in _tensors(result) if isinstance(t, torch.Tensor) and t.requires_grad]
    if not inputs:
        return []
    if not outputs:
        return ["no gradient: the output is not connected to the inputs"]
    gen = torch.Generator().manual_seed(cotangent_seed)
    cotangents = [torch.randn(o.shape, generator=gen, dtype=torch.float64).to(o.dtype) for o in outputs]
    try:
        grads = torch.autograd.grad(outputs, inputs, cotangents, allow_unused=True)
    except Exception as err:
        return [f"no gradient: {type(err).__name__}: {str(err)[:200]}"]
    return [None if g is None else g.detach() for g in grads]


def run_cases(fn, request: dict) -> dict:
    """Call the student's function on every case of a grader request; return the payload."""
    results = []
    for index, case in enumerate(request["cases"]):
        args = wire.materialise(case["args"])
        kwargs = wire.materialise(case["kwargs"])
        results.append(call_case(fn, args, kwargs, forbidden=list(request.get("forbidden", [])),
                                 seed=case.get("seed"), gradient=bool(request.get("gradient")),
                                 cotangent_seed=int(case.get("cotangent_seed", index))))
    return {"function": request["function"], "defined": True, "results": results}


def _publish(payload: dict) -> None:
    from IPython.display import publish_display_data

    publish_display_data({MIME: wire.to_message(payload),
                          "text/plain": f"hidden tests: {len(payload.get('results', []))} case(s) run; "
                                        "the grader compares the results with the reference after the notebook ends"})


def grade_task(assignment: str, grade_id: str, namespace: dict) -> None:
    """Run the hidden tests of one task (see the module docstring)."""
    folder = os.environ.get(INPUTS_ENV)
    if folder:
        request = read_request(Path(folder), grade_id)
        fn = namespace.get(request["function"])
        if not callable(fn):
            _publish({"function": request["function"], "defined": False, "results": []})
            return
        _publish(run_cases(fn, request))
        return
    self_check(assignment, grade_id, namespace)


def read_request(folder: Path, grade_id: str) -> dict:
    base = folder / grade_id
    return wire.loads(base.with_suffix(".json").read_bytes(), base.with_suffix(".safetensors").read_bytes()
                      if base.with_suffix(".safetensors").exists() else b"")


def public_seed(assignment: str, grade_id: str) -> int:
    """The fixed seed of the self-check (the grader uses a secret, per-submission one)."""
    return int.from_bytes(hashlib.sha256(f"public|{assignment}|{grade_id}".encode()).digest()[:6], "big")


def self_check(assignment: str, grade_id: str, namespace: dict) -> None:
    """Outside grading: check the function against the reference here and now."""
    from genai_grading import verdict
    from genai_grading.tasks import find_task

    task = find_task(assignment, grade_id)
    request, cases = verdict.make_request(task, public_seed(assignment, grade_id))
    fn = namespace.get(task.function)
    payload = run_cases(fn, request) if callable(fn) else {"function": task.function, "defined": False, "results": []}
    payload = wire.from_message(wire.to_message(payload))  # the same round trip as in grading
    result = verdict.judge(task, cases, request, payload)
    if not result.passed:
        raise AssertionError(result.detail or result.message)


# ---------------------------------------------------------------- the grader's calls into the kernel
def lookup_student(name: str):
    """The student's function ``name`` from the notebook's namespace (used when unpickling stand-ins)."""
    import __main__

    return getattr(__main__, name)


def _modules(value: Any) -> list[torch.nn.Module]:
    if isinstance(value, torch.nn.Module):
        return [value]
    if isinstance(value, (list, tuple)):
        return [m for v in value for m in _modules(v)]
    if isinstance(value, dict):
        return [m for v in value.values() for m in _modules(v)]
    return []


_CALLS: dict[int, tuple[list, list]] = {}
_KEEP_CALLS = 64


def _grad_inputs(args: tuple, kwargs: dict) -> list[torch.Tensor]:
    """Tensors the grader differentiates with respect to, in a fixed order (tensors, then module parameters)."""
    tensors = [t for t in _tensors((args, kwargs)) if t.requires_grad]
    params = [p for m in _modules((args, kwargs)) for p in m.parameters() if p.requires_grad]
    return tensors + params


def bridge_call(name: str, blob: str, namespace: dict) -> None:
    """Serve one request of the grader: call the student's ``name``, or back-propagate through a call.

    The grader's data is unpickled here, in the sandbox (the safe direction);
    what goes back is plain data (:mod:`genai_grading.wire`): the output or
    the error, the forbidden calls seen, and the state of every tensor and
    module argument after the call (so that in-place updates reach the
    grader's copies). For a differentiable call the inputs and outputs stay
    here under ``call_id``; a later ``backward`` request returns the
    vector-Jacobian product, so the grader can differentiate through the
    student's function as if it ran in its own process.
    """
    import base64
    import io

    request = torch.load(io.BytesIO(base64.b64decode(blob)), weights_only=False)
    if request.get("mode") == "backward":
        _publish({"function": name, "defined": True, "results": [_backward(request)]})
        return
    fn = namespace.get(name)
    if not callable(fn):
        _publish({"function": name, "defined": False, "results": []})
        return
    torch.set_rng_state(request["rng"])
    args, kwargs = request["args"], request["kwargs"]
    record = call_case(fn, args, kwargs, forbidden=list(request.get("forbidden", [])), seed=None, gradient=False,
                       cotangent_seed=0, keep_graph=bool(request.get("differentiable")))
    if request.get("differentiable") and record.get("ok"):
        outputs = [t for t in _tensors(record["output_graph"])]
        _CALLS[int(request["call_id"])] = (_grad_inputs(args, kwargs), outputs)
        for old in sorted(_CALLS)[:-_KEEP_CALLS]:
            del _CALLS[old]
        record["output_requires_grad"] = [bool(t.requires_grad) for t in outputs]
    record.pop("output_graph", None)
    record["modules_after"] = [{k: v.detach() for k, v in m.state_dict().items()} for m in _modules((args, kwargs))]
    record["rng_after"] = torch.get_rng_state()
    _publish({"function": name, "defined": True, "results": [record]})


def _backward(request: dict) -> dict:
    entry = _CALLS.get(int(request["call_id"]))
    if entry is None:
        return {"ok": False, "error": "the grader asked for the gradient of an unknown call", "forbidden": []}
    inputs, outputs = entry
    pairs = [(o, g) for o, g in zip(outputs, request["grads"]) if g is not None and o.requires_grad]
    if not inputs or not pairs:
        return {"ok": True, "output": [None] * len(inputs), "forbidden": []}
    try:
        grads = torch.autograd.grad([o for o, _ in pairs], inputs, [g.to(o.dtype) for o, g in pairs],
                                    allow_unused=True, retain_graph=True)
    except Exception as err:
        return {"ok": False, "error": f"{type(err).__name__}: {str(err)[:MAX_ERROR]}", "forbidden": []}
    return {"ok": True, "output": [None if g is None else g.detach() for g in grads], "forbidden": []}
