"""Compare a student's output with the expected one, and say what differs.

Two messages come back: ``student`` (shown in feedback: which case, what kind
of difference, never the expected values) and ``detail`` (for the
instructor's evidence record and the self-check: the values too).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from genai_grading.wire import Unsupported


class Mismatch(Exception):
    def __init__(self, student: str, detail: str | None = None):
        super().__init__(student)
        self.student = student
        self.detail = detail or student


def compare(actual: Any, expected: Any, where: str, atol: float, rtol: float, check_dtype: bool = True) -> None:
    """Raise :class:`Mismatch` at the first difference between ``actual`` and ``expected``."""
    if isinstance(actual, Unsupported):
        raise Mismatch(f"{where}: returned a {actual.type_name}, which cannot be compared; "
                       f"expected {_kind(expected)}")
    if isinstance(expected, torch.Tensor):
        if not isinstance(actual, torch.Tensor):
            if isinstance(actual, (int, float)) and not isinstance(actual, bool) and expected.numel() == 1 \
                    and not check_dtype:
                actual = torch.tensor(float(actual)).reshape(expected.shape)
            else:
                raise Mismatch(f"{where}: expected a torch.Tensor of shape {tuple(expected.shape)}, "
                               f"got {type(actual).__name__}")
        if tuple(actual.shape) != tuple(expected.shape):
            raise Mismatch(f"{where}: expected shape {tuple(expected.shape)}, got {tuple(actual.shape)}")
        if check_dtype and actual.dtype != expected.dtype:
            raise Mismatch(f"{where}: expected dtype {expected.dtype} (the dtype of the inputs), got {actual.dtype}")
        if expected.dtype == torch.bool or actual.dtype == torch.bool:
            if not torch.equal(actual.to(torch.bool), expected.to(torch.bool)):
                raise Mismatch(f"{where}: wrong values", f"{where}: boolean values differ")
            return
        if expected.dtype in (torch.float32, torch.float16, torch.bfloat16):
            # two correct formulas differ by a few units in the last place of single precision
            atol, rtol = max(atol, 1e-6), max(rtol, 1e-5)
        a = actual.detach().to("cpu", torch.float64)
        e = expected.detach().to("cpu", torch.float64)
        if not torch.isfinite(a).all() and torch.isfinite(e).all():
            raise Mismatch(f"{where}: your result contains NaN or infinity where the expected one does not")
        if not torch.allclose(a, e, atol=atol, rtol=rtol, equal_nan=True):
            diff = (a - e).abs().nan_to_num(nan=float("inf"))
            index = tuple(int(i) for i in torch.nonzero(diff == diff.max())[0]) if diff.dim() else ()
            n_bad = int((~torch.isclose(a, e, atol=atol, rtol=rtol, equal_nan=True)).sum())
            raise Mismatch(
                f"{where}: values differ from the reference beyond the tolerance (atol={atol}, rtol={rtol}) "
                f"in {n_bad} of {e.numel()} entries",
                f"{where}: largest difference {float(diff.max()):.3g} at index {index}: "
                f"got {float(a[index]):.6g}, expected {float(e[index]):.6g}; {n_bad} of {e.numel()} entries differ")
        return
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        if actual != expected or type(actual) is not type(expected):
            raise Mismatch(f"{where}: wrong value ({_kind(expected)} expected)",
                           f"{where}: expected {expected!r}, got {actual!r}")
        return
    if isinstance(expected, (int, float)):
        if isinstance(actual, torch.Tensor) and actual.numel() == 1:
            actual = actual.item()
        if isinstance(actual, bool) or not isinstance(actual, (int, float)):
            raise Mismatch(f"{where}: expected a number, got {type(actual).__name__}")
        if not (math.isclose(float(actual), float(expected), rel_tol=rtol, abs_tol=atol)
                or (math.isnan(float(actual)) and math.isnan(float(expected)))):
            raise Mismatch(f"{where}: wrong value", f"{where}: expected {expected!r}, got {actual!r}")
        return
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or set(actual) != set(expected):
            got = sorted(actual) if isinstance(actual, dict) else type(actual).__name__
            raise Mismatch(f"{where}: expected a dict with keys {sorted(expected)}, got {got}")
        for key in expected:
            compare(actual[key], expected[key], f"{where}[{key!r}]", atol, rtol, check_dtype)
        return
    if isinstance(expected, (tuple, list)):
        if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
            got = f"a {type(actual).__name__} of length {len(actual)}" if isinstance(actual, (tuple, list)) \
                else type(actual).__name__
            raise Mismatch(f"{where}: expected a {type(expected).__name__} of length {len(expected)}, got {got}")
        for i, (a, e) in enumerate(zip(actual, expected)):
            compare(a, e, f"{where}[{i}]", atol, rtol, check_dtype)
        return
    if actual != expected:
        raise Mismatch(f"{where}: wrong value", f"{where}: expected {expected!r}, got {actual!r}")


def _kind(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"
