"""What a chapter shows of the package: a function's source, without its docstring.

Chapters teach from the package's own code instead of pasting a second copy
into the notebook, so the page and the tested implementation cannot drift.
"""

from __future__ import annotations

import inspect
import re
from typing import Callable


def source_without_docstring(fn: Callable) -> str:
    """The source of ``fn`` (a function, method or class) with its docstring removed."""
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError) as err:
        raise TypeError(f"expected a function or class defined in a Python file, got {fn!r}") from err
    doc = inspect.getdoc(fn)
    if not doc:
        return source.rstrip()
    quotes = '"""' if '"""' in source else "'''"
    head, sep, rest = source.partition(quotes)
    if not sep:
        return source.rstrip()
    _, _, after = rest.partition(quotes)
    head = re.sub(r"(?i)(?<![\w])[rub]{1,2}$", "", head)  # a string prefix such as r in r"""..."""
    lines = (head.rstrip() + after).splitlines()
    return "\n".join(line for line in lines if line.strip() or not line).rstrip()


def show_code(fn: Callable) -> None:
    """Print the source of a package function without its docstring (the chapters' code listings)."""
    print(source_without_docstring(fn))
