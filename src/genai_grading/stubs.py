"""A copy of the course package in which the graded functions of an assignment raise.

The sandbox mounts this copy instead of the real package, so the reference
solution of a task is physically absent while the student's answer runs:
there is nothing to unwrap, reload or import. Everything else of the package
(the U-Net, the data loaders, the solvers that a task does not grade) works
as usual.
"""

from __future__ import annotations

import ast
import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import genai_foundations
import genai_grading

PACKAGE_DIR = Path(genai_foundations.__file__).resolve().parent
GRADING_DIR = Path(genai_grading.__file__).resolve().parent
# What the kernel needs of the grading package: the harness and what it imports. The task modules
# (which import the references) and the grader itself stay outside.
SANDBOX_GRADING_FILES = ("__init__.py", "wire.py", "guard.py", "harness.py")
CACHE_ENV = "GENAI_GRADING_CACHE"


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def package_hash() -> str:
    """A hash of the package and the grading code: part of every submission's grading key."""
    digest = hashlib.sha256()
    for folder in (PACKAGE_DIR, GRADING_DIR):
        for path in _files(folder):
            digest.update(str(path.relative_to(folder.parent)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


class _Stub(ast.NodeTransformer):
    def __init__(self, qualnames: set[str], module: str):
        self.qualnames, self.module, self.stack, self.done = qualnames, module, [], set()

    def _visit_def(self, node):
        qual = ".".join(self.stack + [node.name])
        if qual in self.qualnames:
            message = (f"{self.module}.{qual} is the reference solution of a task being graded; it is not "
                       "available while your answer runs. Write the computation yourself.")
            node.body = [ast.Raise(exc=ast.Call(func=ast.Name("RuntimeError", ast.Load()),
                                                args=[ast.Constant(message)], keywords=[]), cause=None)]
            node.decorator_list = [d for d in node.decorator_list
                                   if isinstance(d, ast.Name) and d.id in ("staticmethod", "classmethod")]
            self.done.add(qual)
            return node
        self.stack.append(node.name)
        self.generic_visit(node)
        self.stack.pop()
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = _visit_def

    def visit_ClassDef(self, node):
        qual = ".".join(self.stack + [node.name])
        if qual in self.qualnames:  # a whole class is blocked: its constructor raises
            self.qualnames.add(f"{qual}.__init__")
            if not any(isinstance(b, ast.FunctionDef) and b.name == "__init__" for b in node.body):
                node.body.append(ast.parse("def __init__(self, *args, **kwargs):\n    pass").body[0])
            self.done.add(qual)
        self.stack.append(node.name)
        self.generic_visit(node)
        self.stack.pop()
        return node


def _split(name: str) -> tuple[Path, str, str]:
    """``genai_foundations.a.b.func`` -> (file of module a.b, module name, qualname)."""
    parts = name.split(".")
    if parts[0] != "genai_foundations":
        raise ValueError(f"only package functions can be blocked, not {name!r}")
    for cut in range(len(parts) - 1, 0, -1):
        module_path = PACKAGE_DIR.joinpath(*parts[1:cut])
        if module_path.with_suffix(".py").is_file():
            return module_path.with_suffix(".py"), ".".join(parts[:cut]), ".".join(parts[cut:])
    raise ValueError(f"cannot find the module of {name!r} in {PACKAGE_DIR}")


#: A stub of another package version is deleted once it is this old (seconds): a grading run that
#: started before the package changed may still be using it.
STALE_AFTER_S = 3600


def prune_stubs(cache: Path, version: str, stale_after_s: float = STALE_AFTER_S) -> list[Path]:
    """Delete the cached stubs built from another version of the package, older than ``stale_after_s``.

    Every change to the package gives new stubs, so without this the cache grows by one copy of the
    package per version and per blocked list. Returns the folders removed.
    """
    removed = []
    now = time.time()
    for entry in cache.iterdir():
        if not entry.is_dir():
            continue
        marker = entry / ".package"  # absent in stubs of older grading code, and in abandoned partial builds
        if marker.is_file() and marker.read_text() == version:
            continue
        if now - (marker if marker.is_file() else entry).stat().st_mtime > stale_after_s:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def build_stub(blocked: list[str], cache: Path | None = None) -> Path:
    """A folder holding ``genai_foundations`` (with ``blocked`` raising) and the harness; cached."""
    cache = Path(cache or os.environ.get(CACHE_ENV) or Path(tempfile.gettempdir()) / "genai-grading-stubs")
    version = package_hash()
    key = hashlib.sha256((version + "|" + "|".join(sorted(blocked))).encode()).hexdigest()[:24]
    target = cache / key
    if (target / ".complete").exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    prune_stubs(cache, version)
    work = Path(tempfile.mkdtemp(prefix=f"{key}-", dir=cache))
    shutil.copytree(PACKAGE_DIR, work / "genai_foundations", ignore=shutil.ignore_patterns("__pycache__"))
    (work / "genai_grading").mkdir()
    for name in SANDBOX_GRADING_FILES:
        shutil.copy2(GRADING_DIR / name, work / "genai_grading" / name)
    by_file: dict[Path, tuple[str, set[str]]] = {}
    for name in blocked:
        path, module, qual = _split(name)
        by_file.setdefault(path, (module, set()))[1].add(qual)
    for path, (module, quals) in by_file.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        stub = _Stub(set(quals), module)
        tree = ast.fix_missing_locations(stub.visit(tree))
        missing = quals - stub.done - {q for q in stub.qualnames if q.endswith(".__init__")}
        if missing:
            raise ValueError(f"{module} has no function {sorted(missing)} to block")
        (work / "genai_foundations" / path.relative_to(PACKAGE_DIR)).write_text(ast.unparse(tree), encoding="utf-8")
    for folder, _, files in os.walk(work):
        os.chmod(folder, 0o755)
        for f in files:
            os.chmod(os.path.join(folder, f), 0o644)
    (work / ".package").write_text(version)
    (work / ".complete").write_text(key)
    try:
        work.rename(target)
    except OSError:  # another process built it first
        shutil.rmtree(work, ignore_errors=True)
    os.chmod(cache, 0o755)
    return target
