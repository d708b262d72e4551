"""Start a sandboxed kernel: join the cgroups, set rlimits, exec bubblewrap.

    python -m genai_grading.launch --uid N --fsize BYTES --cgroup-procs FILE [...] -- bwrap ...

Run by the grader (as root) as the kernel's command. Everything it sets is
inherited by bubblewrap and the kernel, and cannot be undone from inside:
the cgroups cap memory and processes, RLIMIT_FSIZE caps file size,
RLIMIT_CORE forbids core dumps, and setpriv (inside the sandbox) switches to the sandbox's user id.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uid", type=int, required=True)
    parser.add_argument("--fsize", type=int, required=True)
    parser.add_argument("--nofile", type=int, default=1024)
    parser.add_argument("--nproc", type=int, default=0)
    parser.add_argument("--cgroup-procs", action="append", default=[])
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run")
    for path in args.cgroup_procs:
        with open(path, "w") as handle:
            handle.write(str(os.getpid()))
    resource.setrlimit(resource.RLIMIT_FSIZE, (args.fsize, args.fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (args.nofile, args.nofile))
    if args.nproc:
        resource.setrlimit(resource.RLIMIT_NPROC, (args.nproc, args.nproc))
    # bubblewrap (still root, to build the mounts) then execs setpriv, which becomes args.uid with no
    # capabilities; RLIMIT_NPROC then counts that user's processes (one user id per running sandbox).
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
