"""Start a command under resource limits: ``python sandbox.py MEMORY_MB CPU_SECONDS FILE_MB -- COMMAND...``.

The grader starts every student kernel and check process through this file. It is run by path and
uses only the standard library, so it works before any course code is importable. Limits, set
with ``resource.setrlimit`` and inherited by everything the command starts:

- address space ``MEMORY_MB`` (0: no limit): a huge allocation raises ``MemoryError`` instead of
  pushing the machine into swap;
- CPU time ``CPU_SECONDS``: a busy loop left behind (a forked child, say) is killed by the kernel;
- size of any file written, ``FILE_MB``; no core files.

The module also holds the :class:`Limits` a grader applies, and builds the command lines.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one submission may use.

    Attributes:
        cell_seconds: wall-clock limit for one notebook cell.
        total_seconds: wall-clock limit for the whole notebook run.
        check_seconds: wall-clock limit for one exercise's check process.
        memory_mb: address-space cap of the kernel and of each check process (0: none). TensorFlow
            alone reserves about 1.5 GB, so keep this well above that for lessons that use Keras.
        output_kb: notebook output kept from a run; the rest is dropped.
        file_mb: largest file a kernel or check may write.
    """

    cell_seconds: float = 120
    total_seconds: float = 900
    check_seconds: float = 120
    memory_mb: int = 8192
    output_kb: int = 1024
    file_mb: int = 100


def network_prefix() -> list[str]:
    """``["unshare", "-rn"]`` where a process may have a network namespace of its own, else nothing."""
    if shutil.which("unshare") is None:
        return []
    try:
        works = subprocess.run(["unshare", "-rn", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        works = False
    return ["unshare", "-rn"] if works else []


PASSED_ON = ("PATH", "LANG", "LC_ALL", "KERAS_BACKEND", "CUDA_VISIBLE_DEVICES")
"""The grader's environment variables a sandboxed process sees; the others (tokens, say) stay behind."""


def sandbox_environment(home: Path, python_path: Path) -> dict[str, str]:
    """Environment variables for a sandboxed process: a few passed on, ``HOME`` in its scratch folder."""
    environment = {name: os.environ[name] for name in PASSED_ON if name in os.environ}
    return {**environment, "HOME": str(home), "PYTHONPATH": str(python_path), "MPLBACKEND": "Agg"}


def sandboxed(command: list[str], limits: Limits, cpu_seconds: float, network: list[str]) -> list[str]:
    """``command`` wrapped to start through this file under ``limits``, with ``network`` (a prefix) in front.

    Example:
        >>> sandboxed(["python", "x.py"], Limits(memory_mb=512), 30, [])[2:]
        ['512', '31', '100', '--', 'python', 'x.py']
    """
    return [sys.executable, str(Path(__file__).resolve()), str(limits.memory_mb), str(int(cpu_seconds) + 1),
            str(limits.file_mb), "--", *network, *command]


def main(argv: list[str]) -> None:
    """Set the limits given in ``argv``, then replace this process with the command after ``--``."""
    if len(argv) < 5 or argv[3] != "--":
        sys.exit("usage: python sandbox.py MEMORY_MB CPU_SECONDS FILE_MB -- COMMAND...")
    memory_mb, cpu_seconds, file_mb = (int(value) for value in argv[:3])
    if memory_mb > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 2**20, memory_mb * 2**20))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_mb * 2**20, file_mb * 2**20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.execvp(argv[4], argv[4:])


if __name__ == "__main__":
    main(sys.argv[1:])
