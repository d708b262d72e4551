"""Helpers the exercise tests call to grade a student's function against the reference.

An exercise's hidden test looks like this::

    from genai_foundations.grading import Case, check_function
    from genai_foundations.algorithms.ddpm import q_sample as reference_q_sample

    check_function(q_sample, reference_q_sample, [Case(x0, t, noise, schedule) for ...])

:func:`check_function` computes the expected outputs with the reference
*first*, then calls the student's function while the reference is blocked:
every package function decorated with :func:`reference` raises
:class:`ReferenceUnavailableError` if it is called during that time, however
the student imported it. Inputs are cloned for each call, so an answer that
modifies its arguments in place cannot change the expected result.

A wrong answer raises ``AssertionError`` with a message written for the
student (which case, what was expected, what came back). A right answer
prints nothing, on stdout or stderr: nbgrader scores a test cell 0 when it
writes to stderr, so warnings raised by the student's code are silenced here.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

import torch

_blocked: set[Callable] = set()


class ReferenceUnavailableError(RuntimeError):
    """Raised when a reference solution is called while a student's answer is being graded."""


def reference(fn: Callable) -> Callable:
    """Mark ``fn`` as a graded reference solution (see :func:`check_function`)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if wrapper in _blocked:
            raise ReferenceUnavailableError(
                f"{fn.__module__}.{fn.__qualname__} is the reference solution of the task being graded, "
                "so it cannot be called from your answer. Write the computation yourself."
            )
        return fn(*args, **kwargs)

    wrapper.is_reference = True  # type: ignore[attr-defined]
    return wrapper


@contextlib.contextmanager
def references_blocked(*functions: Callable) -> Iterator[None]:
    """Within the block, calling any of ``functions`` (made with :func:`reference`) raises."""
    for fn in functions:
        if not getattr(fn, "is_reference", False):
            raise TypeError(f"{getattr(fn, '__qualname__', fn)!r} is not decorated with @reference")
    added = [fn for fn in functions if fn not in _blocked]
    _blocked.update(added)
    try:
        yield
    finally:
        _blocked.difference_update(added)


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
) -> int:
    """Check ``student`` against ``reference_fn`` on every case; return the number of cases passed.

    ``seed``: reseed torch before each call, for functions that draw random
    numbers themselves (both get the same stream). ``also_block``: further
    references that the answer must not call (e.g. a whole-sampler reference
    when the task is one step of it).
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
        with references_blocked(reference_fn, *also_block), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                actual = student(*_clone(case.args), **_clone(case.kwargs))
            except NotImplementedError:
                raise AssertionError(f"{name} is not implemented yet (it raised NotImplementedError)") from None
            except ReferenceUnavailableError as err:
                raise AssertionError(f"{name} called the reference solution: {err}") from None
            except Exception as err:  # the student's bug: say where, keep the traceback
                raise AssertionError(f"{where}: your function raised {type(err).__name__}: {err}") from err
        assert_matches(actual, expected, where, atol=atol, rtol=rtol)
    return len(cases)
