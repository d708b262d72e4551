"""Best-effort detection of forbidden library calls made by the student's own code.

Runs inside the sandbox, around each call of the student's function. A
:class:`torch.overrides.TorchFunctionMode` sees every ``torch.*`` function,
``torch.nn.functional.*`` function and ``Tensor`` method call, whatever name
it was reached by (``torch.lstm_cell``, ``torch._VF.lstm_cell``,
``torch._C._VariableFunctions.lstm_cell`` and ``torch.ops.aten.lstm_cell``
all arrive with the name ``lstm_cell``). A call counts only when the nearest
caller frame outside torch is the student's own code (a notebook cell), so
package code the student legitimately calls (a U-Net using ``F.conv2d``) is
not affected.

What this cannot stop: the student's process can switch the mode off
(``torch._C._disable_torch_function_mode``, popping the mode stack) or reach
a kernel without going through Python. The grader's scan of the submitted
source (:mod:`genai_grading.scan`) catches the plain spellings of such
tricks; the rest is documented in the instructor guide. The verdict itself
never depends on this module: it is computed outside the sandbox.
"""

from __future__ import annotations

import os
import sys
from typing import Iterable

import torch
from torch.overrides import TorchFunctionMode

_TORCH_DIR = os.path.dirname(torch.__file__)
_HERE = os.path.dirname(os.path.abspath(__file__))


def _library_roots() -> tuple[str, ...]:
    roots = {_TORCH_DIR, _HERE, sys.prefix, sys.base_prefix, os.path.dirname(os.__file__)}
    try:
        import genai_foundations

        roots.add(os.path.dirname(os.path.abspath(genai_foundations.__file__)))
    except Exception:  # the package may be absent in a bare test kernel
        pass
    return tuple(sorted(r for r in roots if r))


def is_student_frame(filename: str, roots: Iterable[str]) -> bool:
    """True for code the student wrote: notebook cells and anything outside the installed libraries."""
    if filename.startswith("<frozen") or filename.startswith("<string>"):
        return False
    if filename.startswith("<ipython-input") or "ipykernel_" in filename:
        return True
    return not any(filename.startswith(root) for root in roots)


class ForbiddenCallGuard(TorchFunctionMode):
    """Record (and refuse) calls of forbidden torch functions made directly by student code."""

    def __init__(self, forbidden_short_names: Iterable[str]):
        super().__init__()
        self.forbidden = set(forbidden_short_names)
        self.violations: list[str] = []
        self.roots = _library_roots()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "") or ""
        short = name.split(".")[0]
        if self.forbidden and (short in self.forbidden or name in self.forbidden):
            frame = sys._getframe(1)
            # skip torch's own dispatch frames; the first frame above them made the call
            while frame is not None and frame.f_code.co_filename.startswith((_TORCH_DIR, _HERE)):
                frame = frame.f_back
            if frame is not None and is_student_frame(frame.f_code.co_filename, self.roots):
                self.violations.append(short)
                raise ForbiddenCallError(short)
        return func(*args, **kwargs)


class ForbiddenCallError(RuntimeError):
    """Raised in the student's process when a forbidden function is called from the answer."""

    def __init__(self, name: str):
        super().__init__(f"{name} is forbidden in this task: write the computation yourself")
        self.name = name
