"""Start a student's Jupyter kernel inside bubblewrap: the kernel command of ``python -m unet_lib grade``.

nbgrader's ``autograde`` starts the kernel that runs a submission with this module as the kernel's
command (a kernelspec the grader writes, :func:`write_kernelspec`), in the folder of the submission's
notebook. This module only assembles the command line of `bubblewrap <https://github.com/containers/
bubblewrap>`_, the sandbox, and replaces itself with it. Inside, the kernel sees:

- a read-only system (``/usr``, ``/bin``, ``/lib*``, ``/etc``) and Python (the interpreter and the
  environment, read-only, without the repository or any course folder);
- its own notebook folder, read-write: the submission's copy, where nbgrader has put the student
  copy of the library (``unet_lib/`` without solutions), which the notebook imports;
- the folder of the kernel's connection sockets (ZeroMQ over Unix sockets, ``KernelManager.transport =
  "ipc"``), a private ``/tmp`` and a private ``/dev``;
- no network (a network namespace of its own: no interface but loopback, no abstract Unix sockets of
  the host), no other process (a PID namespace: what it starts dies with it), no inherited session.

Limits on time, process count and total memory are set by the grader around the whole nbgrader
run (a cgroup, :mod:`unet_lib.classroom.grade`), not here.

Usage (by jupyter_client, from the kernelspec): ``python -m unet_lib.classroom.sandbox_kernel
CONNECTION_FILE``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

KERNEL_NAME = "unet-course-sandbox"
"""The name of the kernelspec the grader writes and tells nbgrader to use."""

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
"""Read-only in the sandbox, where they exist (``/bin`` and ``/lib`` are links into ``/usr`` on Debian)."""

PASSED_ENVIRONMENT = ("NBGRADER_EXECUTION", "KERAS_BACKEND", "TF_CPP_MIN_LOG_LEVEL", "OMP_NUM_THREADS", "LANG")
"""Variables of the grader's environment the kernel keeps; every other one is dropped (``--clearenv``)."""


def bwrap_command(connection_file: str | Path, notebook_dir: str | Path, python: str = sys.executable) -> list[str]:
    """The ``bwrap`` command line that runs an IPython kernel for ``connection_file`` in ``notebook_dir``.

    Args:
        connection_file: the kernel's connection file (jupyter_client writes it); its transport must be
            ``"ipc"``, whose socket files live beside the path its ``ip`` names.
        notebook_dir: the folder of the notebook being graded, the kernel's working folder.
        python: the interpreter of the kernel.

    Returns:
        The argument list, starting with the path of ``bwrap``.

    Raises:
        ValueError: if ``bwrap`` is not installed or the connection does not use Unix sockets.
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise ValueError("bwrap (Debian package bubblewrap) must be installed to grade: it confines each submission")
    connection_file = Path(connection_file).resolve()
    connection = json.loads(connection_file.read_text(encoding="utf-8"))
    if connection.get("transport") != "ipc":
        raise ValueError("connection_file must use the ipc transport (Unix sockets), "
                         f"got {connection.get('transport')!r}")
    socket_dir = Path(connection["ip"]).resolve().parent
    notebook_dir = Path(notebook_dir).resolve()
    python_dirs = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(python).resolve().parent.parent}
    # Mounts apply in order: the private /tmp first, so that binds below it (a Python or a course folder
    # under /tmp) stay visible.
    command = [bwrap, "--die-with-parent", "--new-session", "--unshare-all", "--clearenv",
               "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for folder in SYSTEM_DIRS:
        if os.path.lexists(folder):
            command += ["--ro-bind", folder, folder]
    for folder in sorted(python_dirs):
        command += ["--ro-bind", str(folder), str(folder)]
    command += ["--bind", str(notebook_dir), str(notebook_dir),
                "--bind", str(socket_dir), str(socket_dir),
                "--ro-bind", str(connection_file), str(connection_file),
                "--chdir", str(notebook_dir),
                "--setenv", "HOME", "/tmp", "--setenv", "MPLCONFIGDIR", "/tmp/matplotlib",
                "--setenv", "PATH", f"{Path(python).parent}:/usr/bin:/bin", "--setenv", "PYTHONNOUSERSITE", "1"]
    for name in PASSED_ENVIRONMENT:
        if name in os.environ:
            command += ["--setenv", name, os.environ[name]]
    return command + ["--", python, "-m", "ipykernel_launcher", "-f", str(connection_file)]


def write_kernelspec(jupyter_dir: str | Path) -> Path:
    """Write the kernelspec :data:`KERNEL_NAME` under ``jupyter_dir/kernels/``; return its folder.

    Put ``jupyter_dir`` on ``JUPYTER_PATH`` and run nbgrader with ``--Execute.kernel_name`` set to it.
    """
    folder = Path(jupyter_dir) / "kernels" / KERNEL_NAME
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [sys.executable, "-m", "unet_lib.classroom.sandbox_kernel", "{connection_file}"],
            "display_name": "Python 3 (unet course sandbox)", "language": "python"}
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
    return folder


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit("usage: python -m unet_lib.classroom.sandbox_kernel CONNECTION_FILE")
    command = bwrap_command(argv[0], os.getcwd())
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
