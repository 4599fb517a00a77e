"""Run a command on a student's behalf with no privilege: bubblewrap for the view, setpriv for the user.

The grader (root: it needs cgroups) runs each step of a submission's grading through :func:`run_confined`:

- `bubblewrap <https://github.com/containers/bubblewrap>`_, started as root with an empty environment,
  builds the view: a read-only system (``/usr``, ``/etc``...) and Python, the job's own files read-only
  at ``/sandbox-job``, a size-limited private ``/tmp``, ``/dev/shm`` and ``/sandbox`` (tmpfs: memory of
  the submission's cgroup, so the disk it may fill is bounded twice), a private ``/dev`` and ``/proc``;
  new PID, network (loopback only), IPC and UTS namespaces; nothing of the course, the other students or
  the grader.
- then, inside, ``setpriv`` drops to the host's ``nobody`` (uid and gid 65534, no supplementary group)
  with every capability gone from the effective, permitted, inheritable, ambient and bounding sets and
  ``no_new_privs`` set, before the command starts. No user namespace is made: a uid that looks
  unprivileged inside a user namespace can still be host root outside it. So the command cannot remount
  anything, write a host-wide setting (``/proc/sys``), read the environment of bubblewrap's own process
  (root's), or gain a privilege back through a setuid program.
- around it, the caller's cgroup caps memory and processes (:mod:`course_tools.grade`), a
  wall-clock limit ends it, and at most ``max_output`` bytes of what it prints are kept.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from course_tools.exercises import default_package_dir

NOBODY = 65534
"""The uid and gid the student's code runs as: Debian's ``nobody`` and ``nogroup``."""
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
"""Read-only in the sandbox, where they exist (``/bin`` and ``/lib`` are links into ``/usr`` on Debian)."""
DROP_PRIVILEGES = ["--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups", "--inh-caps=-all",
                   "--ambient-caps=-all", "--bounding-set=-all", "--no-new-privs"]
"""setpriv's options: the host's nobody, no group, no capability of any kind, and none to be gained."""


@dataclasses.dataclass(frozen=True)
class Confined:
    """What a confined command left: its exit code (negative: killed by that signal), or ``None`` when it ran
    past its time; the first ``max_output`` bytes of its standard output, and whether there was more."""

    returncode: int | None
    output: bytes
    output_cut: bool


def python_dirs(python: str = sys.executable) -> list[Path]:
    """The folders the interpreter needs: its environment, and the installation it was made from."""
    return sorted({Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(python).resolve().parent.parent})


def bwrap_command(job_dir: Path, command: Sequence[str], work_mb: int, binds: Sequence[tuple[Path, str]] = (),
                  working_dir: str = "/sandbox", environment: dict[str, str] | None = None) -> list[str]:
    """The command line that runs ``command`` confined, as the module docstring says.

    Args:
        job_dir: the job's files, read-only at ``/sandbox-job``.
        command: what to run, as ``nobody``; paths as the sandbox sees them.
        work_mb: the size of ``/sandbox`` and of ``/tmp``, each a private tmpfs.
        binds: more read-only folders, ``(host path, sandbox path)``; a sandbox path under ``/sandbox`` is made
            (writable by the command) with its parents.
        working_dir: where the command starts, as the sandbox sees it.
        environment: the command's whole environment (``HOME``, ``PATH`` and ``LANG`` come set).

    Raises:
        ValueError: if ``bwrap`` or ``setpriv`` is not installed.
    """
    bwrap, setpriv = shutil.which("bwrap"), shutil.which("setpriv")
    if bwrap is None or setpriv is None:
        raise ValueError("grading needs bwrap (Debian package bubblewrap) and setpriv (util-linux) to confine "
                         "each submission")
    size = str(work_mb * 2**20)
    line = [bwrap, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net", "--unshare-ipc",
            "--unshare-uts", "--unshare-cgroup-try", "--clearenv", "--dev", "/dev", "--proc", "/proc",
            "--perms", "1777", "--size", size, "--tmpfs", "/dev/shm",  # multiprocessing's locks live there
            # mounts apply in order: the private /tmp first, so that binds below it stay visible
            "--perms", "1777", "--size", size, "--tmpfs", "/tmp"]
    for folder in SYSTEM_DIRS:
        if os.path.lexists(folder):
            line += ["--ro-bind", folder, folder]
    for folder in python_dirs():
        line += _parents(folder) + ["--ro-bind", str(folder), str(folder)]
    # The instructor's packages, where they are installed into the environment (not editable installs): hidden
    # under empty folders, since the course's holds the solutions and this one the grader.
    for package in (default_package_dir(), Path(__file__).resolve().parent):
        if any(folder in package.parents for folder in python_dirs()):
            line += ["--perms", "0755", "--tmpfs", str(package), "--remount-ro", str(package)]
    line += ["--ro-bind", str(job_dir), "/sandbox-job", "--perms", "0777", "--size", size, "--tmpfs", "/sandbox"]
    for host, inside in binds:
        line += _parents(Path(inside), writable=inside.startswith("/sandbox/")) + ["--ro-bind", str(host), inside]
    environment = {"HOME": "/tmp", "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "LANG": "C.UTF-8",
                   **(environment or {})}
    for name, value in environment.items():
        line += ["--setenv", name, value]
    line += ["--remount-ro", "/"]  # the root bubblewrap made, last: the folders above every bind are made
    return line + ["--chdir", working_dir, "--", setpriv, *DROP_PRIVILEGES, "--", *command]


def _parents(folder: Path, writable: bool = False) -> list[str]:
    """``--dir`` for each folder above ``folder``, readable by all (and writable, under ``/sandbox``), so that the
    unprivileged command can walk down to a bind even where the host's folder is private (``/root``)."""
    line = []
    for parent in reversed(folder.parents[:-1]):
        if str(parent) not in ("/tmp", "/sandbox"):
            line += ["--perms", "0777" if writable else "0755", "--dir", str(parent)]
    return line


def _read_capped(stream, limit: int, into: dict) -> None:
    """Read ``stream`` to its end, keeping its first ``limit`` bytes (a command may print without end)."""
    kept, cut = bytearray(), False
    while chunk := stream.read(65536):
        room = limit - len(kept)
        kept += chunk[:max(room, 0)]
        cut = cut or len(chunk) > room
    into.update(data=bytes(kept), cut=cut)


def run_confined(prefix: Sequence[str], line: Sequence[str], seconds: float, max_output: int,
                 on_timeout) -> Confined:
    """Run ``prefix + line`` (the cgroup's prefix, then :func:`bwrap_command`'s line) with an empty environment.

    Args:
        prefix: what runs the sandbox in the submission's cgroup (``cgexec`` and the reaper).
        line: the sandbox's command line.
        seconds: the wall-clock limit; past it ``on_timeout(pid)`` is called to end the process tree.
        max_output: bytes of standard output kept; standard error is discarded.
        on_timeout: ends everything in the cgroup but the process ``pid`` (the reaper, which then exits).
    """
    # bwrap reads its options from a pipe (--args), so that its command line, which any process in the sandbox
    # may read in /proc/1/cmdline, shows none of the grader's paths: only the command, as the sandbox sees it.
    end = line.index("--")
    arguments = b"".join(argument.encode() + b"\0" for argument in line[1:end])
    if len(arguments) > 60000:  # more than a pipe holds before anyone reads it
        raise ValueError(f"line must be a bwrap command line of at most 60000 bytes, got {len(arguments)}")
    arguments_read, arguments_write = os.pipe()
    with os.fdopen(arguments_write, "wb") as pipe:
        pipe.write(arguments)
    try:
        process = subprocess.Popen([*prefix, line[0], "--args", str(arguments_read), *line[end:]], env={},
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                   start_new_session=True, pass_fds=(arguments_read,))
    finally:
        os.close(arguments_read)
    output = {}
    reader = threading.Thread(target=_read_capped, args=(process.stdout, max_output, output), daemon=True)
    reader.start()
    try:
        returncode = process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        on_timeout(process.pid)
        process.wait()
        returncode = None
    reader.join(timeout=10)  # a grandchild that escaped the cgroup could hold the pipe: do not wait for it
    return Confined(returncode, output.get("data", b""), output.get("cut", False))
