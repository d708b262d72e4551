"""One submission, from the prepared notebook to the verdict on every task (runs in a worker).

:func:`grade_job` is what the grader sends to a worker (a local process or a
Dask worker elsewhere). It receives plain data (the notebook to execute,
the assignment, the seed, the limits), runs the notebook in a sandboxed
kernel, compares the outputs with the reference outside the sandbox, and
returns plain data. It never touches the gradebook or the course folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat

import torch

from genai_grading import bridge, sandbox, stubs, wire
from genai_grading.harness import MIME
from genai_grading.scan import defining_code, find_forbidden
from genai_grading.sandbox import Limits
from genai_grading.tasks import blocked_by_assignment, forbidden_by_cell, load_tasks
from genai_grading.verdict import TaskVerdict, judge, make_request

SLOTS_DIR = Path(tempfile.gettempdir()) / "genai-grading-slots"
FIRST_UID = 61000
N_SLOTS = 512


@contextlib.contextmanager
def sandbox_slot():
    """A user id no other running sandbox on this machine has (held with a file lock)."""
    SLOTS_DIR.mkdir(parents=True, exist_ok=True)
    for slot in range(N_SLOTS):
        handle = open(SLOTS_DIR / f"slot-{slot}", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        try:
            yield FIRST_UID + slot
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
        return
    raise RuntimeError(f"all {N_SLOTS} sandbox slots are busy")


def _kernel_manager_class():
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpec

    class SandboxKernelManager(AsyncKernelManager):
        """A kernel manager whose kernel command is given (the sandbox launcher), with ipc transport."""

        argv: list[str] = []

        @property
        def kernel_spec(self):
            return KernelSpec(argv=self.argv, display_name="Python 3 (grading sandbox)", language="python")

        def _kernel_pids(self) -> list[int]:
            import psutil

            process = getattr(getattr(self, "provisioner", None), "process", None)
            if process is None:
                return []
            try:
                return [c.pid for c in psutil.Process(process.pid).children(recursive=True)
                        if c.uids().real == self.sandbox_uid]
            except psutil.Error:
                return []

        async def _async_interrupt_kernel(self):
            """SIGINT to the kernel itself: a signal sent to bubblewrap would not reach it."""
            import signal

            if self.sandbox_uid is None:
                return await super()._async_interrupt_kernel()
            for pid in self._kernel_pids():
                try:
                    os.kill(pid, signal.SIGINT)
                except ProcessLookupError:
                    pass

        async def interrupt_kernel(self):
            return await self._async_interrupt_kernel()

        sandbox_uid: int | None = None

        def write_connection_file(self, **kwargs):
            result = super().write_connection_file(**kwargs)
            os.chmod(self.connection_file, 0o644)  # the sandbox user must read it
            return result

    return SandboxKernelManager


def _notebook_client_class():
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        """Keeps at most ``output_limit`` bytes of output and takes the grader payloads out of the notebook."""

        output_limit = 2 * 2**20
        payload_limit = 64 * 2**20

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.payloads: dict[int, list[Any]] = {}
            self.output_bytes = 0
            self.truncated_cells: set[int] = set()

        def output(self, outs, msg, display_id, cell_index):
            content = msg.get("content", {})
            data = content.get("data") if isinstance(content, dict) else None
            if isinstance(data, dict) and MIME in data:
                raw = data.pop(MIME)
                size = len(json.dumps(raw)) if not isinstance(raw, str) else len(raw)
                if size <= self.payload_limit:
                    self.payloads.setdefault(cell_index, []).append(raw)
            size = len(json.dumps(content, default=str))
            self.output_bytes += size
            if self.output_bytes > self.output_limit:
                if cell_index not in self.truncated_cells:
                    self.truncated_cells.add(cell_index)
                    outs.append(nbformat.v4.new_output(
                        "stream", name="stdout",
                        text=f"\n[grader: output beyond {self.output_limit // 2**20} MiB per notebook is not kept]\n"))
                return None
            return super().output(outs, msg, display_id, cell_index)

    return CappedClient


def _task_cells(nb) -> dict[str, int]:
    return {c.metadata.get("nbgrader", {}).get("grade_id"): i for i, c in enumerate(nb.cells)
            if c.metadata.get("nbgrader", {}).get("grade")}


def execute_notebook(nb, *, assignment: str, requests: dict[str, dict], limits: Limits, use_sandbox: bool = True,
                     blocked: list[str] | None = None, after_cells=None) -> dict[str, Any]:
    """Execute ``nb`` in a fresh (sandboxed) kernel that sees ``requests`` as the grader's inputs."""
    work = Path(tempfile.mkdtemp(prefix="genai-grade-"))
    os.chmod(work, 0o755)
    report: dict[str, Any] = {"kernel_died": False, "timed_out": False, "oom": False, "pids_exhausted": False,
                              "error": ""}
    cgroup = None
    km = None
    try:
        inputs = work / "inputs"
        inputs.mkdir()
        for grade_id, request in requests.items():
            tree, blob = wire.dumps(request)
            (inputs / f"{grade_id}.json").write_bytes(tree)
            (inputs / f"{grade_id}.safetensors").write_bytes(blob or b"")
        for path in [inputs, *inputs.iterdir()]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        ipc = work / "ipc"
        ipc.mkdir()
        kernel_argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        with contextlib.ExitStack() as stack:
            km_class = _kernel_manager_class()
            km = km_class(transport="ipc", ip=str(ipc / "kernel"))
            km.connection_file = str(ipc / "connection.json")
            env_for_unsafe = None
            if use_sandbox:
                uid = stack.enter_context(sandbox_slot())
                os.chown(ipc, uid, uid)
                package = stubs.build_stub(blocked or [])
                etc = sandbox.etc_files(work / "etc", uid)
                cgroup = sandbox.Cgroup(limits)
                bwrap = sandbox.bwrap_command(package_dir=package, inputs_dir=inputs, ipc_dir=ipc, etc_dir=etc,
                                              limits=limits, kernel_argv=kernel_argv, uid=uid)
                launcher = [sys.executable, "-m", "genai_grading.launch", "--uid", str(uid),
                            "--fsize", str(limits.file_bytes), "--nproc", str(limits.max_processes)]
                for path in cgroup.procs_files:
                    launcher += ["--cgroup-procs", path]
                km.argv = launcher + ["--", *bwrap]
                km.sandbox_uid = uid
            else:
                km.argv = kernel_argv
                env_for_unsafe = dict(os.environ, GENAI_GRADING_INPUTS=str(inputs),
                                      OMP_NUM_THREADS=str(limits.threads), MKL_NUM_THREADS=str(limits.threads))
            client_class = _notebook_client_class()
            client = client_class(nb, km=km, timeout=limits.cell_timeout_s, allow_errors=True,
                                  interrupt_on_timeout=True, startup_timeout=120, iopub_timeout=10,
                                  record_timing=False, shutdown_kernel="immediate")
            client.output_limit = limits.output_bytes

            async def run():
                kwargs = {"env": env_for_unsafe} if env_for_unsafe is not None else {"env": {}}
                kwargs.update(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                async with client.async_setup_kernel(**kwargs):
                    if use_sandbox:  # sockets exist now: the kernel may no longer create files there
                        os.chown(ipc, 0, 0)
                        os.chmod(ipc, 0o755)
                    for index, cell in enumerate(client.nb.cells):
                        await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
                    if after_cells is not None:  # the grader's own calls into the kernel (hidden tests)
                        report["after_cells"] = await asyncio.to_thread(after_cells, km)

            started = time.monotonic()
            try:
                asyncio.run(asyncio.wait_for(run(), timeout=limits.submission_timeout_s))
            except asyncio.TimeoutError:
                report["timed_out"] = True
                report["error"] = f"the notebook ran longer than the {limits.submission_timeout_s:.0f} s allowed"
            except Exception as err:  # DeadKernelError and friends: what ran so far still counts
                name = type(err).__name__
                report["kernel_died"] = name in ("DeadKernelError", "RuntimeError") or "died" in str(err).lower()
                report["error"] = f"{name}: {str(err)[:300]}"
            report["seconds"] = round(time.monotonic() - started, 3)
            with contextlib.suppress(Exception):
                from jupyter_core.utils import run_sync

                run_sync(km.shutdown_kernel)(now=True)
            if cgroup is not None:
                report["oom"] = cgroup.oom_killed()
                report["pids_exhausted"] = cgroup.pids_exhausted()
            report["payloads"] = {str(k): v for k, v in client.payloads.items()}
            report["truncated"] = sorted(client.truncated_cells)
            report["notebook"] = client.nb
    finally:
        if cgroup is not None:
            cgroup.remove()
        shutil.rmtree(work, ignore_errors=True)
    return report


def hidden_test_references(source) -> list[str]:
    """Package functions the source notebook's hidden tests import: absent from the sandbox."""
    import ast
    import importlib
    import inspect

    names = []
    for cell in source.cells:
        hidden = bridge.hidden_part(cell.source) if cell.cell_type == "code" else ""
        try:
            tree = ast.parse(hidden)
        except SyntaxError:
            continue
        modules: dict[str, object] = {}  # local name -> package module imported whole
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("genai_foundations"):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    obj = getattr(module, alias.name, None)
                    if inspect.ismodule(obj):
                        modules[alias.asname or alias.name] = obj
                    elif inspect.isfunction(obj) and obj.__module__.startswith("genai_foundations"):
                        names.append(f"{obj.__module__}.{obj.__qualname__}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("genai_foundations.") and alias.asname:
                        modules[alias.asname] = importlib.import_module(alias.name)
        for node in ast.walk(tree):  # `_sm.mixture_score` where `_sm` is a package module
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
                obj = getattr(modules[node.value.id], node.attr, None)
                if inspect.isfunction(obj) and obj.__module__.startswith("genai_foundations"):
                    names.append(f"{obj.__module__}.{obj.__qualname__}")
    return names


def grade_job(job: dict) -> dict:
    """Grade one prepared submission; see the module docstring. Returns plain data."""
    started = time.monotonic()
    assignment = job["assignment"]
    limits = Limits(**job["limits"])
    nb = nbformat.reads(job["notebook"], as_version=4)
    tasks = load_tasks(assignment)
    requests, cases = {}, {}
    for task in tasks:
        requests[task.grade_id], cases[task.grade_id] = make_request(task, job["seeds"][task.grade_id])
    source = nbformat.reads(job["source"], as_version=4)
    blocked = sorted({name for task in tasks for name in task.blocked_names()} | set(hidden_test_references(source))
                     | set(blocked_by_assignment(assignment)))
    skip = {task.grade_id for task in tasks}

    def hidden_tests(km):
        link = bridge.KernelLink(km, limits.cell_timeout_s, blocked)
        dtype = torch.get_default_dtype()
        try:
            return bridge.run_hidden_tests(source, link, job["seeds"], forbidden_by_cell(assignment), skip)
        finally:
            torch.set_default_dtype(dtype)
            link.kc.stop_channels()

    run = execute_notebook(nb, assignment=assignment, requests=requests, limits=limits,
                           use_sandbox=job.get("sandbox", True), blocked=blocked, after_cells=hidden_tests)
    cells = _task_cells(run["notebook"])
    student_cells = {}
    for i, cell in enumerate(nb.cells):
        meta = cell.metadata
        if cell.cell_type == "code" and (meta.get("nbgrader", {}).get("solution")
                                         or meta.get("genai_grading", {}).get("added_by_student")):
            key = meta.get("nbgrader", {}).get("grade_id") if meta.get("nbgrader", {}).get("solution") else f"added-{i}"
            student_cells[key] = cell.source
    verdicts: list[TaskVerdict] = []
    for task in tasks:
        payload = None
        raw = run["payloads"].get(str(cells.get(task.grade_id)), [])
        for candidate in reversed(raw):  # the last payload of this cell for this function
            try:
                decoded = wire.from_message(candidate)
            except wire.WireError:
                continue
            if isinstance(decoded, dict) and decoded.get("function") == task.function:
                payload = decoded
                break
        try:
            verdict = judge(task, cases[task.grade_id], requests[task.grade_id], payload)
        except Exception as err:  # a reference failure is the grader's problem, never the student's score
            verdict = TaskVerdict(task.grade_id, False, f"{task.function}: the grader failed on this task "
                                  f"({type(err).__name__}); your instructor has the details", repr(err))
        found = find_forbidden(defining_code(student_cells, task.function), task.forbidden)
        if found and verdict.passed:
            verdict = TaskVerdict(task.grade_id, False, f"{task.function} uses {', '.join(found)}, which this task "
                                  "forbids: the point is to write the computation yourself (0 points for this task)",
                                  verdict.detail, verdict.n_cases, 0, verdict.evidence)
        verdicts.append(verdict)
    hidden = run.get("after_cells") or {}
    answers = bridge.answer_cells(source)
    forbidden_cells = forbidden_by_cell(assignment)
    for gid in [c.metadata["nbgrader"]["grade_id"] for c in source.cells
                if c.metadata.get("nbgrader", {}).get("grade") and c.metadata["nbgrader"]["grade_id"] not in skip]:
        h = hidden.get(gid) or {"passed": False, "message": "the hidden tests could not run (the notebook did not "
                                "finish: see the notes above)", "detail": ""}
        verdict = TaskVerdict(gid, bool(h["passed"]), h["message"], h.get("detail", ""))
        code = "\n\n".join([student_cells.get(a, "") for a in answers.get(gid, [])]
                           + [c for k, c in student_cells.items() if k.startswith("added-")])
        found = find_forbidden(code, forbidden_cells.get(gid, []))
        if found and verdict.passed:
            verdict = TaskVerdict(gid, False, f"your answer uses {', '.join(found)}, which this task forbids: the "
                                  "point is to write the computation yourself (0 points for this task)", verdict.detail)
        verdicts.append(verdict)
    notes = []
    if run["timed_out"]:
        notes.append(run["error"])
    if run["oom"]:
        notes.append(f"the notebook used more than the {limits.memory_bytes / 2**30:.1f} GiB of memory allowed "
                     "and was stopped")
    if run["pids_exhausted"]:
        notes.append(f"the notebook started more than {limits.max_processes} processes or threads")
    if run["kernel_died"] and not run["oom"]:
        notes.append("the kernel stopped before the end of the notebook (" + run["error"] + ")")
    if run["truncated"]:
        notes.append(f"output beyond {limits.output_bytes // 2**20} MiB was not kept")
    evidence = {}
    for v in verdicts:
        tree, blob = wire.dumps({"grade_id": v.grade_id, "message": v.message, "detail": v.detail,
                                 "cases": v.evidence.get("cases", [])})
        evidence[v.grade_id] = (tree, blob)
    return {
        "key": job["key"], "student": job["student"], "assignment": assignment,
        "verdicts": [{"grade_id": v.grade_id, "passed": v.passed, "message": v.message, "n_cases": v.n_cases,
                      "n_passed": v.n_passed} for v in verdicts],
        "notebook": nbformat.writes(run["notebook"]), "notes": notes, "evidence": evidence,
        "seconds": round(time.monotonic() - started, 3), "kernel_seconds": run.get("seconds"),
        "worker": os.uname().nodename,
    }
