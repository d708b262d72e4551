"""The checks that hidden tests are written with: ``check_function``, ``Case``, ``assert_matches``.

Hidden tests in ``solutions/`` call :func:`check_function` (the student's
function against the reference, case by case) and draw their inputs from
:func:`grading_generator`. At grading time they do not run in the student's
kernel: the grader runs them in its own process (:mod:`genai_grading.bridge`),
where the student's functions are stand-ins that call into the sandboxed
kernel and bring back plain arrays, and where :func:`grading_generator` is
seeded from the instructor's secret and the submission. In the instructor's
own run of a solution notebook, they run in the kernel as ordinary code,
with generators seeded from public seeds.

The reference package is physically absent from the sandbox (see
:mod:`genai_grading.stubs`), so :func:`reference` and
:func:`references_blocked` are kept only so that older hidden tests still
read: they do nothing.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

import torch

_SEED_STATE = {"base": None, "scope": "", "count": 0}


class ReferenceUnavailableError(RuntimeError):
    """Kept for older hidden tests; the sandbox's stubs raise RuntimeError instead."""


def reference(fn: Callable) -> Callable:
    """Kept for older hidden tests: marks nothing (the reference is absent from the sandbox)."""
    return fn


@contextlib.contextmanager
def references_blocked(*functions: Callable) -> Iterator[None]:
    """Kept for older hidden tests: blocks nothing (the reference is absent from the sandbox)."""
    yield


def set_seed_base(base: int | None, scope: str) -> None:
    """Called by the grader before a hidden cell runs: generators derive from ``base`` (None: public)."""
    _SEED_STATE.update(base=base, scope=scope, count=0)


def grading_generator(key: int | None = None) -> torch.Generator:
    """A fresh generator for a hidden test's inputs.

    At grading time its seed comes from the instructor's secret and the
    submission (so no two submissions see the same inputs, and nobody can
    know them in advance); otherwise from a public hash of the test cell.
    Two calls with the same ``key`` in one test cell give equal generators
    (for a test that draws the same noise twice); without a key every call
    gives a new one.
    """
    if key is None:
        _SEED_STATE["count"] += 1
        key = f"n{_SEED_STATE['count']}"
    text = f"{_SEED_STATE['base']}|{_SEED_STATE['scope']}|{key}"
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:7], "big")
    return torch.Generator().manual_seed(seed)


@dataclass
class Case:
    """One set of arguments for the function under test, with a label for messages."""

    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    label: str = ""

    def __init__(self, *args: Any, label: str = "", **kwargs: Any):
        self.args, self.kwargs, self.label = args, kwargs, label

    def describe(self, index: int) -> str:
        if self.label:
            return f"case {index} ({self.label})"
        parts = [_describe_value(a) for a in self.args] + [f"{k}={_describe_value(v)}" for k, v in self.kwargs.items()]
        return f"case {index} (arguments: {', '.join(parts)})"


def _describe_value(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        if value.numel() <= 4:
            return f"tensor({value.tolist()})"
        return f"tensor of shape {tuple(value.shape)}"
    text = repr(value)
    return text if len(text) <= 40 else type(value).__name__


def _clone(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone().requires_grad_(value.requires_grad)
    if isinstance(value, torch.nn.Module):
        return copy.deepcopy(value)
    if isinstance(value, (list, tuple, dict, set)):
        return copy.deepcopy(value)
    return value


def assert_matches(actual: Any, expected: Any, where: str, atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """Compare nested tensors / numbers / sequences / dicts and explain the first difference."""
    if isinstance(expected, torch.Tensor):
        if not isinstance(actual, torch.Tensor):
            actual_tensor = None
            if isinstance(actual, (int, float)) and expected.numel() == 1:
                actual_tensor = torch.tensor(float(actual), dtype=expected.dtype)
            if actual_tensor is None:
                raise AssertionError(f"{where}: expected a torch.Tensor of shape {tuple(expected.shape)}, "
                                     f"got {type(actual).__name__}")
            actual = actual_tensor.reshape(expected.shape)
        if tuple(actual.shape) != tuple(expected.shape):
            raise AssertionError(f"{where}: expected shape {tuple(expected.shape)}, got {tuple(actual.shape)}")
        a = actual.detach().to("cpu", torch.float64)
        e = expected.detach().to("cpu", torch.float64)
        if not torch.isfinite(a).all() and torch.isfinite(e).all():
            raise AssertionError(f"{where}: your result contains NaN or infinity; the expected one does not")
        if not torch.allclose(a, e, atol=atol, rtol=rtol, equal_nan=True):
            diff = (a - e).abs()
            index = tuple(int(i) for i in torch.nonzero(diff == diff.max())[0]) if diff.dim() else ()
            raise AssertionError(
                f"{where}: values differ (largest difference {float(diff.max()):.3g} at index {index}: "
                f"got {float(a[index]):.6g}, expected {float(e[index]):.6g}; tolerance atol={atol}, rtol={rtol})"
            )
        return
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        if actual != expected:
            raise AssertionError(f"{where}: expected {expected!r}, got {actual!r}")
        return
    if isinstance(expected, (int, float)):
        if isinstance(actual, torch.Tensor) and actual.numel() == 1:
            actual = actual.item()
        if not isinstance(actual, (int, float)):
            raise AssertionError(f"{where}: expected a number, got {type(actual).__name__}")
        if not math.isclose(float(actual), float(expected), rel_tol=rtol, abs_tol=atol):
            raise AssertionError(f"{where}: expected {expected:.6g}, got {actual:.6g}")
        return
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or set(actual) != set(expected):
            got = sorted(actual) if isinstance(actual, dict) else type(actual).__name__
            raise AssertionError(f"{where}: expected a dict with keys {sorted(expected)}, got {got}")
        for key in expected:
            assert_matches(actual[key], expected[key], f"{where}[{key!r}]", atol, rtol)
        return
    if isinstance(expected, (tuple, list)):
        if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
            got = f"{type(actual).__name__} of length {len(actual)}" if isinstance(actual, (tuple, list)) else type(actual).__name__
            raise AssertionError(f"{where}: expected a {type(expected).__name__} of length {len(expected)}, got {got}")
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_matches(a, e, f"{where}[{i}]", atol, rtol)
        return
    if actual != expected:
        raise AssertionError(f"{where}: expected {expected!r}, got {actual!r}")


def _tensor_leaves(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensor_leaves(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensor_leaves(v)]
    return []


def _check_dtypes(actual: Any, expected: Any, where: str) -> None:
    """Every tensor of the answer has the dtype of the reference's tensor at the same place."""
    got, want = _tensor_leaves(actual), _tensor_leaves(expected)
    for i, (a, e) in enumerate(zip(got, want)):
        if a.dtype != e.dtype:
            part = "" if len(want) == 1 else f" (tensor {i + 1} of the result)"
            raise AssertionError(f"{where}{part}: expected dtype {e.dtype}, got {a.dtype}; compute in any precision "
                                 "you like, but return the dtype the reference returns for these inputs")


def check_function(
    student: Callable,
    reference_fn: Callable,
    cases: Iterable[Case],
    *,
    name: str | None = None,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    seed: int | None = None,
    also_block: Sequence[Callable] = (),
    check_dtype: bool = True,
    inputs_unchanged: bool = True,
) -> int:
    """Check ``student`` against ``reference_fn`` on every case; return the number of cases passed.

    ``seed``: reseed torch before each call, for functions that draw random
    numbers themselves (both get the same stream). ``check_dtype``: every
    returned tensor must have the reference's dtype. ``inputs_unchanged``:
    the answer must not modify its tensor arguments in place (set False for a
    task that asks for an in-place update, and check the updated state).
    ``also_block`` is kept for older hidden tests (the sandbox's stubs block).
    """
    name = name or getattr(student, "__name__", "your function")
    if not callable(student):
        raise AssertionError(f"{name} is not a function: define it in the solution cell above")
    cases = list(cases)
    if not cases:
        raise ValueError("check_function needs at least one case")
    for index, case in enumerate(cases):
        where = f"{name}, {case.describe(index)}"
        if seed is not None:
            torch.manual_seed(seed + index)
        expected = reference_fn(*_clone(case.args), **_clone(case.kwargs))
        if seed is not None:
            torch.manual_seed(seed + index)
        args, kwargs = _clone(case.args), _clone(case.kwargs)
        before = [t.detach().clone() for t in _tensor_leaves((args, kwargs))]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                actual = student(*args, **kwargs)
            except NotImplementedError:
                raise AssertionError(f"{name} is not implemented yet (it raised NotImplementedError)") from None
            except Exception as err:  # the student's bug: say where, keep the traceback
                raise AssertionError(f"{where}: your function raised {type(err).__name__}: {err}") from err
        assert_matches(actual, expected, where, atol=atol, rtol=rtol)
        if check_dtype:
            _check_dtypes(actual, expected, where)
        if inputs_unchanged:
            after = _tensor_leaves((args, kwargs))
            for k, (b, a) in enumerate(zip(before, after)):
                if a.shape != b.shape or not torch.equal(a.detach(), b):
                    raise AssertionError(f"{where}: your function changed its input tensor number {k + 1} in "
                                         "place; leave the inputs unchanged and return new tensors")
    return len(cases)
