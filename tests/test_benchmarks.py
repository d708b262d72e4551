"""The benchmark scripts cannot rot: the quick variant of each runs and writes its JSON with a table.

One test class per script of ``benchmarks/run_all.py`` (``run_all.quick_scripts()``), so that
``pytest -n 2`` spreads them over its workers even with ``--dist loadscope`` (which keeps the tests
of one class, or of one module's plain functions, on one worker). Each runs
``python benchmarks/<script>.py --quick --out <tmp>`` exactly as ``make bench-quick`` does and
checks the JSON the results page renders. A listed script that does not exist yet fails with
a message that says so. A test also fails when a script under ``benchmarks/`` is not listed in
``run_all.py``, so that a new comparison cannot be left out of ``make bench``.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import run_all  # noqa: E402

#: A quick run takes seconds (under 40 s on one quiet core); this only stops a hung script.
QUICK_TIMEOUT_S = 600


def run_quick(script: run_all.Script, out: Path) -> dict:
    """Run ``script --quick --out out`` and return its JSON, failing the test with the script's output if it fails."""
    path = BENCHMARKS / f"{script.name}.py"
    if not path.exists():
        pytest.fail(f"benchmarks/{script.name}.py is listed in benchmarks/run_all.py but does not exist (yet)")
    proc = subprocess.run(run_all.command(script, quick=True, out=out), cwd=ROOT, env=run_all.environment(),
                          capture_output=True, text=True, timeout=QUICK_TIMEOUT_S)
    log = (proc.stdout + proc.stderr)[-4000:]
    assert proc.returncode == 0, f"{script.name} --quick exited with {proc.returncode}:\n{log}"
    written = out / f"{script.json}.json"
    assert written.exists(), f"{script.name} --quick did not write {written.name}:\n{log}"
    problem = run_all.check_json(written, since=0.0)
    assert problem is None, problem
    return json.loads(written.read_text(encoding="utf-8"))


def _quick_test_class(script: run_all.Script) -> type:
    def test_quick_run_writes_its_table(self, tmp_path):
        result = run_quick(script, tmp_path)
        assert result["quick"] is True, "a --quick run must mark its JSON as quick"
        assert result["table"]["title"] and result["table"]["columns"]
        assert result["machine"]["cpu"] and result["versions"]["torch"]

    name = f"TestQuick_{script.name}"
    return type(name, (), {"test_quick_run_writes_its_table": test_quick_run_writes_its_table, "__doc__":
                           f"``benchmarks/{script.name}.py --quick`` runs and writes {script.json}.json with a table."})


for _script in run_all.quick_scripts():
    globals()[f"TestQuick_{_script.name}"] = _quick_test_class(_script)


def test_every_benchmark_script_is_listed():
    on_disk = {p.stem for p in BENCHMARKS.glob("*.py")} - set(run_all.HELPERS)
    listed = {s.name for s in run_all.SCRIPTS}
    assert on_disk - listed == set(), f"scripts not listed in benchmarks/run_all.py SCRIPTS: {sorted(on_disk - listed)}"
    assert set(run_all.NOT_QUICK) <= listed, "NOT_QUICK names a script that SCRIPTS does not list"
    assert len(listed) == len(run_all.SCRIPTS), "a script is listed twice"


@pytest.mark.parametrize("name", ["layers", "deep_rl", "autoregressive_gpt", "grading_throughput"])
def test_committed_table_is_derived_from_the_committed_numbers(name):
    """The table of a committed result is what the script's ``table_from`` makes of that JSON's own numbers."""
    module = importlib.import_module(name)
    script = next(s for s in run_all.SCRIPTS if s.name == name)
    result = json.loads((BENCHMARKS / "results" / f"{script.json}.json").read_text(encoding="utf-8"))
    assert result["table"] == module.table_from(result)


def test_run_all_reports_a_failing_script(tmp_path):
    """run_all's checks: a crash, a missing table and a missing script fail; a good script passes."""
    folder, out = tmp_path / "scripts", tmp_path / "out"
    folder.mkdir()
    writer = ("import json, sys, pathlib\n"
              "out = pathlib.Path(sys.argv[sys.argv.index('--out') + 1]); out.mkdir(parents=True, exist_ok=True)\n"
              "(out / '{name}.json').write_text(json.dumps({payload}))\n")
    good = {"table": {"title": "t", "columns": ["a", "b"], "rows": [["1", "2"]]}}
    (folder / "good.py").write_text(writer.format(name="good", payload=good))
    (folder / "no_table.py").write_text(writer.format(name="no_table", payload={"rows": []}))
    (folder / "empty_table.py").write_text(
        writer.format(name="empty_table", payload={"table": {"title": "t", "columns": ["a"], "rows": []}}))
    (folder / "crash.py").write_text("raise SystemExit(3)\n")
    outcome = {name: run_all.run_script(run_all.Script(name, name), quick=True, out=out, folder=folder)
               for name in ("good", "no_table", "empty_table", "crash", "missing")}
    assert outcome["good"][0] is True and outcome["good"][2] == ""
    assert outcome["no_table"][0] is False and "table" in outcome["no_table"][2]
    assert outcome["empty_table"][0] is False and "no rows" in outcome["empty_table"][2]
    assert outcome["crash"][0] is False and outcome["crash"][2] == "exit status 3"
    assert outcome["missing"][0] is False and "does not exist" in outcome["missing"][2]
    with pytest.raises(SystemExit):  # an unknown name is refused before anything runs
        run_all.main(["--quick", "--only", "no_such_script"])
