"""The sandbox a student's kernel runs in: bubblewrap namespaces plus cgroup and rlimit limits.

Layout inside the sandbox (everything else of the host is absent):

* ``/usr`` (and the ``/bin``, ``/lib`` links), the Python installation and the
  virtual environment: read-only;
* the course package, as a copy in which the graded functions of the
  assignment raise (:mod:`genai_grading.stubs`): read-only;
* the grader's inputs for this submission: read-only;
* ``/tmp`` and the home/working folder: private tmpfs of limited size,
  thrown away with the sandbox;
* one folder for the kernel's unix sockets (ZMQ ``ipc`` transport), which
  the grader makes read-only for the kernel once it has started.

No network (``--unshare-net``: not even the host's loopback), no other
process visible (``--unshare-pid``), no capabilities, a different user id
than the grader's. Memory and the number of processes are limited by a
cgroup (v1 or v2, whichever is mounted and writable); file size, core dumps
and open files by rlimits. Where none of this is available, :func:`check`
says so and the grader refuses to run (unless the instructor passes
``--unsafe-no-sandbox``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

GiB = 2**30
MiB = 2**20


@dataclass(frozen=True)
class Limits:
    """Resource limits of one submission's sandbox (see the instructor guide for how to change them)."""

    memory_bytes: int = 4 * GiB
    cell_timeout_s: float = 120.0
    submission_timeout_s: float = 900.0
    max_processes: int = 256        # threads count too: torch and the kernel start a few dozen
    output_bytes: int = 2 * MiB     # stdout/stderr/display output kept per notebook
    file_bytes: int = 256 * MiB     # largest file the kernel may write
    scratch_bytes: int = 512 * MiB  # size of each private tmpfs
    threads: int = 1                # OMP/MKL threads of the kernel

    @classmethod
    def from_env(cls, **overrides) -> "Limits":
        """Defaults, then ``GENAI_CELL_TIMEOUT`` / ``GENAI_GRADING_MEMORY_GB`` / ..., then ``overrides``."""
        values = {}
        env = os.environ
        if env.get("GENAI_CELL_TIMEOUT"):
            values["cell_timeout_s"] = float(env["GENAI_CELL_TIMEOUT"])
        if env.get("GENAI_GRADING_MEMORY_GB"):
            values["memory_bytes"] = int(float(env["GENAI_GRADING_MEMORY_GB"]) * GiB)
        if env.get("GENAI_SUBMISSION_TIMEOUT"):
            values["submission_timeout_s"] = float(env["GENAI_SUBMISSION_TIMEOUT"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def as_dict(self) -> dict:
        return asdict(self)


class SandboxUnavailable(RuntimeError):
    """The machine cannot run the sandbox; the message says what is missing and how to proceed."""


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


# ---------------------------------------------------------------- cgroups
def cgroup_version() -> int | None:
    """2 for a unified hierarchy, 1 for v1 with memory and pids controllers, None when neither is writable."""
    root = Path("/sys/fs/cgroup")
    if (root / "cgroup.controllers").exists():
        return 2 if os.access(root, os.W_OK) else None
    if (root / "memory").is_dir() and (root / "pids").is_dir():
        return 1 if os.access(root / "memory", os.W_OK) and os.access(root / "pids", os.W_OK) else None
    return None


class Cgroup:
    """One cgroup per sandbox with a memory and a process-count limit; removed afterwards."""

    def __init__(self, limits: Limits, name: str | None = None):
        self.version = cgroup_version()
        if self.version is None:
            raise SandboxUnavailable("no writable cgroup hierarchy (v1 memory+pids or v2) for the memory and "
                                     "process limits")
        self.name = name or f"genai-grading-{uuid.uuid4().hex[:12]}"
        root = Path("/sys/fs/cgroup")
        self.dirs = [root / self.name] if self.version == 2 else [root / "memory" / self.name, root / "pids" / self.name]
        for d in self.dirs:
            d.mkdir()
        if self.version == 2:
            (self.dirs[0] / "memory.max").write_text(str(limits.memory_bytes))
            (self.dirs[0] / "memory.swap.max").write_text("0") if (self.dirs[0] / "memory.swap.max").exists() else None
            (self.dirs[0] / "pids.max").write_text(str(limits.max_processes))
        else:
            (self.dirs[0] / "memory.limit_in_bytes").write_text(str(limits.memory_bytes))
            memsw = self.dirs[0] / "memory.memsw.limit_in_bytes"
            if memsw.exists():
                try:
                    memsw.write_text(str(limits.memory_bytes))
                except OSError:
                    pass
            (self.dirs[1] / "pids.max").write_text(str(limits.max_processes))

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def oom_killed(self) -> bool:
        """True when the kernel hit the memory limit."""
        try:
            if self.version == 2:
                events = (self.dirs[0] / "memory.events").read_text()
                return any(line.startswith("oom_kill ") and int(line.split()[1]) > 0 for line in events.splitlines())
            control = (self.dirs[0] / "memory.oom_control").read_text()
            kills = [int(line.split()[1]) for line in control.splitlines() if line.startswith("oom_kill ")]
            if kills:
                return kills[0] > 0
            return int((self.dirs[0] / "memory.failcnt").read_text()) > 0
        except OSError:
            return False

    def pids_exhausted(self) -> bool:
        try:
            path = self.dirs[0 if self.version == 2 else 1] / "pids.events"
            text = path.read_text()
            return any(line.startswith("max ") and int(line.split()[1]) > 0 for line in text.splitlines())
        except (OSError, ValueError, IndexError):
            return False

    def remove(self) -> None:
        """Kill whatever is left in the cgroup and remove it."""
        import signal
        import time

        for d in self.dirs:
            for _ in range(50):
                try:
                    pids = [int(p) for p in (d / "cgroup.procs").read_text().split()]
                except OSError:
                    break
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.05)
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)


def remove_stale_cgroups(max_age_s: float = 3600.0) -> int:
    """Remove the empty cgroups of sandboxes whose worker died (older than ``max_age_s``); return how many."""
    import time

    root = Path("/sys/fs/cgroup")
    removed = 0
    for parent in (root, root / "memory", root / "pids"):
        if not parent.is_dir():
            continue
        for d in parent.glob("genai-grading-*"):
            try:
                if time.time() - d.stat().st_mtime > max_age_s and not (d / "cgroup.procs").read_text().strip():
                    d.rmdir()
                    removed += 1
            except OSError:
                pass
    return removed


# ---------------------------------------------------------------- checks
def check() -> None:
    """Raise :class:`SandboxUnavailable` unless a sandbox can be started here."""
    if sys.platform != "linux":
        raise SandboxUnavailable(f"the grading sandbox needs Linux (bubblewrap and cgroups); this is {sys.platform}")
    if bwrap_path() is None:
        raise SandboxUnavailable("bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap; "
                                 "`make grading-deps` does it)")
    if os.geteuid() != 0:
        raise SandboxUnavailable("grading runs the sandbox as root (to set cgroup limits and a separate user id); "
                                 "run `make grade` as root or in the instructor's grading container")
    if cgroup_version() is None:
        raise SandboxUnavailable("no writable cgroup hierarchy: memory and process limits cannot be enforced")
    if shutil.which("setpriv") is None:
        raise SandboxUnavailable("setpriv (util-linux) is missing: it drops the kernel to the sandbox user")
    probe = subprocess.run([bwrap_path(), "--unshare-net", "--unshare-pid", "--die-with-parent", "--ro-bind", "/", "/",
                            shutil.which("setpriv"), "--reuid=65533", "--regid=65533", "--clear-groups",
                            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "true"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        raise SandboxUnavailable("bubblewrap cannot create mount, network and PID namespaces here: "
                                 + (probe.stderr.strip() or f"exit code {probe.returncode}"))


def available() -> bool:
    try:
        check()
    except (SandboxUnavailable, OSError, subprocess.SubprocessError):
        return False
    return True


# ---------------------------------------------------------------- command line
def _root_links() -> list[str]:
    args = []
    for name in ("bin", "lib", "lib32", "lib64", "sbin"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


def bwrap_command(*, package_dir: Path, inputs_dir: Path, ipc_dir: Path, etc_dir: Path, limits: Limits,
                  kernel_argv: list[str], uid: int) -> list[str]:
    """The bubblewrap command line that starts ``kernel_argv`` inside the sandbox."""
    home = "/home/student"
    prefixes = sorted({sys.base_prefix, sys.prefix, os.path.realpath(sys.base_prefix)})
    # bubblewrap runs as root without a user namespace (so that it can bind the Python installation
    # wherever it lives), then setpriv drops to the sandbox user with no capabilities at all.
    args = [bwrap_path() or "bwrap", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session",
            "--hostname", "grader", "--ro-bind", "/usr", "/usr", *_root_links()]
    args += ["--ro-bind", str(etc_dir / "passwd"), "/etc/passwd", "--ro-bind", str(etc_dir / "group"), "/etc/group"]
    for extra in ("/etc/ld.so.cache", "/etc/fonts", "/etc/alternatives", "/etc/localtime"):
        if os.path.exists(extra):
            args += ["--ro-bind", extra, extra]
    # tmpfs mounts first: a Python or virtual environment under /tmp is bound on top of them, not hidden
    args += ["--proc", "/proc", "--dev", "/dev",
             "--size", str(limits.scratch_bytes), "--perms", "1777", "--tmpfs", "/tmp",
             "--size", str(limits.scratch_bytes), "--perms", "0777", "--tmpfs", home,
             "--perms", "0755", "--dir", "/grader", "--perms", "0755", "--dir", "/home",
             "--ro-bind", str(package_dir), "/grader/src",
             "--ro-bind", str(inputs_dir), "/grader/inputs",
             *[a for parent in reversed(Path(ipc_dir).parents[:-1]) if str(parent) not in ("/", "/tmp")
               for a in ("--perms", "0755", "--dir", str(parent))],
             "--bind", str(ipc_dir), str(ipc_dir),
             "--chdir", home, "--clearenv"]
    made: set[str] = set()
    for prefix in prefixes:
        if prefix.startswith("/usr"):
            continue
        # the folders above the prefix (e.g. /root/.pyenv) must be traversable by the sandbox user
        for parent in reversed(Path(prefix).parents[:-1]):
            if str(parent) not in made and not str(parent).startswith("/usr") and str(parent) != "/tmp":
                made.add(str(parent))
                args += ["--perms", "0755", "--dir", str(parent)]
        args += ["--ro-bind", prefix, prefix]

    env = {"HOME": home, "USER": "student", "PATH": f"{sys.prefix}/bin:/usr/bin:/bin", "PYTHONPATH": "/grader/src",
           "IPYTHONDIR": f"{home}/.ipython", "MPLCONFIGDIR": f"{home}/.matplotlib", "MPLBACKEND": "Agg",
           "OMP_NUM_THREADS": str(limits.threads), "MKL_NUM_THREADS": str(limits.threads),
           "OPENBLAS_NUM_THREADS": str(limits.threads), "PYTHONDONTWRITEBYTECODE": "1",
           "GENAI_GRADING_INPUTS": "/grader/inputs", "GENAI_PROGRESS": "text", "PYDEVD_DISABLE_FILE_VALIDATION": "1",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    for key, value in env.items():
        args += ["--setenv", key, value]
    drop = [shutil.which("setpriv") or "/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    return args + ["--", *drop, *kernel_argv]


def etc_files(folder: Path, uid: int) -> Path:
    """A minimal /etc/passwd and /etc/group for the sandbox user."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "passwd").write_text(f"student:x:{uid}:{uid}:student:/home/student:/bin/sh\n")
    (folder / "group").write_text(f"student:x:{uid}:\n")
    return folder
