"""The package the sandbox sees: the graded functions raise, everything else works, nothing to unwrap."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from genai_grading.stubs import build_stub, package_hash, prune_stubs

PROBE = """
import inspect, importlib, torch
from genai_foundations.architectures import activations, recurrent
from genai_foundations.algorithms import solvers
x = torch.randn(3)
results = {}
for name, call in [("sigmoid", lambda: activations.sigmoid(x)),
                   ("unwrapped", lambda: inspect.unwrap(activations.sigmoid)(x)),
                   ("reloaded", lambda: importlib.reload(activations).sigmoid(x)),
                   ("softmax", lambda: activations.softmax(x)),
                   ("euler_ode", lambda: solvers.euler_ode(lambda y, t: -y, x, 0.0, 1.0, steps=4))]:
    try:
        call()
        results[name] = "works"
    except RuntimeError as err:
        results[name] = "absent" if "not available while your answer runs" in str(err) else repr(err)
print(results)
"""


def test_blocked_functions_raise_and_others_work(tmp_path):
    stub = build_stub(["genai_foundations.architectures.activations.sigmoid",
                       "genai_foundations.algorithms.solvers.euler_ode"], cache=tmp_path)
    out = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(stub)!r})\n" + PROBE],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    results = eval(out.stdout.strip().splitlines()[-1])
    assert results == {"sigmoid": "absent", "unwrapped": "absent", "reloaded": "absent", "softmax": "works",
                       "euler_ode": "absent"}
    source = (stub / "genai_foundations" / "architectures" / "activations.py").read_text()
    assert "torch.exp(-a)" not in source.split("def sigmoid")[1].split("def ")[0], "the reference's body is gone"


def test_the_stub_is_cached_by_package_and_blocked_names(tmp_path):
    a = build_stub(["genai_foundations.architectures.activations.sigmoid"], cache=tmp_path)
    b = build_stub(["genai_foundations.architectures.activations.sigmoid"], cache=tmp_path)
    c = build_stub(["genai_foundations.architectures.activations.softmax"], cache=tmp_path)
    assert a == b != c


def test_stubs_of_other_package_versions_are_pruned(tmp_path):
    """Old stubs of another package version go; this version's, and recent ones of another, stay."""
    current = build_stub(["genai_foundations.architectures.activations.sigmoid"], cache=tmp_path)
    old, recent = tmp_path / "old-version", tmp_path / "recent-other-version"
    for folder in (old, recent):
        folder.mkdir()
        (folder / ".package").write_text("another version")
        (folder / ".complete").write_text("x")
    two_hours_ago = time.time() - 7200
    os.utime(old / ".package", (two_hours_ago, two_hours_ago))
    assert prune_stubs(tmp_path, package_hash()) == [old]
    assert not old.exists() and recent.is_dir() and (current / ".complete").is_file()
    # building a stub prunes too: a new blocked list triggers a build
    os.utime(recent / ".package", (two_hours_ago, two_hours_ago))
    build_stub(["genai_foundations.architectures.activations.softmax"], cache=tmp_path)
    assert not recent.exists() and (current / ".complete").is_file()
