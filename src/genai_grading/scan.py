"""A static scan of the student's code for the shortcuts a task forbids (best effort).

The runtime guard (:mod:`genai_grading.guard`) sees calls made through
Python; this scan sees spellings in the submitted source, including the
aliases that exist to reach the same kernels (``torch._VF``,
``torch.ops.aten``, ``torch._C._VariableFunctions``). It reads the cell that
defines the task's function and the cells the student added. A forbidden
name ``torch.nn.functional.batch_norm`` matches ``F.batch_norm``,
``torch.nn.functional.batch_norm`` or ``from torch.nn.functional import
batch_norm``; ``Tensor.sigmoid`` matches any ``.sigmoid`` attribute.
"""

from __future__ import annotations

import ast
from typing import Iterable

MODULE_ROOTS = {"torch", "F", "nn", "functional", "special", "np", "numpy", "scipy", "_VF", "ops", "aten", "optim",
                "linalg", "autograd", "func", "sklearn", "stats", "torchvision", "diffusers", "transformers"}
# Libraries whose names a task can forbid: their imports (plain, aliased or `from ... import`) are tracked.
LIBRARIES = ("torch", "numpy", "scipy", "sklearn", "torchvision", "diffusers", "transformers", "peft", "sacrebleu",
             "rouge_score", "rank_bm25", "faiss", "stable_baselines3", "gymnasium", "pydantic", "jsonschema", "mcp")
ALIAS_ATTRIBUTES = {"_VF", "_VariableFunctions", "aten", "_functional"}


def _root(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    if isinstance(node, ast.Call):
        return _root(node.func)
    return node.id if isinstance(node, ast.Name) else None


def find_forbidden(code: str, forbidden: Iterable[str]) -> list[str]:
    """The forbidden names (as given) that ``code`` spells; aliases of torch internals always count."""
    forbidden = list(forbidden)
    if not forbidden:
        return []
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    method_names = {f.split(".")[-1]: f for f in forbidden if f.startswith("Tensor.")}
    module_names = {f.split(".")[-1]: f for f in forbidden if not f.startswith("Tensor.")}
    aliases = set(MODULE_ROOTS)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in LIBRARIES:
                    aliases.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in LIBRARIES:
            for alias in node.names:
                aliases.add(alias.asname or alias.name)
                if alias.name in module_names:
                    found.add(module_names[alias.name])
                if alias.name in ALIAS_ATTRIBUTES:
                    found.add(f"torch.{alias.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if node.attr in ALIAS_ATTRIBUTES:
                found.add(f"torch internals ({node.attr})")
            if node.attr in method_names:
                found.add(method_names[node.attr])
            elif node.attr in module_names and _root(node.value) in aliases:
                found.add(module_names[node.attr])
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr":
            found.add("getattr on a module (dynamic look-up of a function)") if (
                node.args and _root(node.args[0]) in aliases) else None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "__import__":
                found.add("__import__ (a dynamic import)")
            elif node.func.id == "vars" and node.args and _root(node.args[0]) in aliases | {None}:
                found.add("vars() of a module (a dynamic look-up)")
        if isinstance(node, ast.Attribute) and node.attr == "import_module":
            found.add("importlib.import_module (a dynamic import)")
        if isinstance(node, ast.Attribute) and node.attr == "__dict__" and _root(node.value) in aliases:
            found.add("__dict__ of a module (a dynamic look-up)")
    return sorted(found)


def defining_code(cells: dict[str, str], function: str) -> str:
    """The student's cells that matter for ``function``: the one defining it, and every added cell."""
    parts = []
    for key, code in cells.items():
        if key.startswith("added-") or f"def {function}" in code:
            parts.append(code)
    return "\n\n".join(parts)
