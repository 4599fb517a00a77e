"""Run a command and reap all it leaves behind: ``python -m course_tools.reaper COMMAND [ARG...]``.

The grader runs each of a submission's sandboxes under this, inside the submission's cgroup
(:mod:`course_tools.grade`). When a process dies before its children, Linux gives them to the nearest
ancestor marked a "child subreaper", or else to PID 1; a container's PID 1 often reaps nothing, and a dead
process nobody reaps stays a zombie, charged to the cgroup, which then cannot be removed. A killed sandbox
leaves such orphans (bubblewrap's process inside the namespace). Marked
a subreaper, this process adopts every orphan of the command's tree and reaps it. Once the command has
exited, whatever of its tree is still running is killed; this process then ends as the command did (its
exit code, or killed by the same signal).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


def _children() -> list[int]:
    """The PIDs whose parent is this process (adopted orphans included)."""
    me, found = str(os.getpid()), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.read_text().rsplit(")", 1)[1].split()[1] == me:
                found.append(int(stat.parent.name))
        except (OSError, IndexError):  # ended meanwhile
            continue
    return found


def run(command: list[str]) -> int:
    """Run ``command`` as a child subreaper until it and every process of its tree is reaped.

    Returns:
        The command's wait status (as :func:`os.wait` gives it).
    """
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")
    main = os.fork()
    if main == 0:
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    status = None
    while True:
        try:
            reaped, code = os.wait()
        except ChildProcessError:  # nothing left to reap
            return status
        if reaped == main:
            status = code
        if status is not None:  # the command is done: end what it left running (their orphans come here next)
            for pid in _children():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit("usage: python -m course_tools.reaper COMMAND [ARG...]")
    status = run(argv)
    if os.WIFSIGNALED(status):  # end as the command did, so that the grader reads "killed by signal N"
        if os.WTERMSIG(status) != signal.SIGKILL:  # SIGKILL has no handler to reset
            signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
        os.kill(os.getpid(), os.WTERMSIG(status))
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main(sys.argv[1:])
