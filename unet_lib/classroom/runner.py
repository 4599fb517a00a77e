"""Step 1 of grading: run a submitted notebook top to bottom in a sandboxed kernel."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from unet_lib.classroom.sandbox import Limits, sandbox_environment, sandboxed


class _CappedClient(NotebookClient):
    """A notebook client that keeps at most ``output_budget`` bytes of output."""

    output_budget = 2**20

    def output(self, outs, msg, display_id, cell_index):
        self._output_used = getattr(self, "_output_used", 0) + len(json.dumps(msg["content"], default=str))
        if self._output_used > self.output_budget:
            if not getattr(self, "_output_dropped", False):
                self._output_dropped = True
                outs.append(nbformat.v4.new_output(
                    "stream", name="stderr", text=f"[grader: output beyond {self.output_budget} bytes dropped]\n"))
            return None
        return super().output(outs, msg, display_id, cell_index)


def run_notebook(notebook, release_root: Path, limits: Limits, network: list[str]) -> list[str]:
    """Run ``notebook`` in a sandboxed kernel, in a private copy of the release at ``release_root``.

    Args:
        notebook: an nbformat 4 notebook (only this in-memory copy is executed; no file is changed).
        release_root: the student release the kernel imports from and works in (its ``lessons/``).
        limits: time, memory, output and file limits.
        network: the command prefix that cuts the network (:func:`network_prefix`), or ``[]``.

    Returns:
        Lines for the feedback file: how the run ended and in how many seconds, then each error.
    """
    with tempfile.TemporaryDirectory(prefix="unet-run-") as work:
        work = Path(work)
        shutil.copytree(release_root, work / "release", ignore=shutil.ignore_patterns("__pycache__"))
        lessons = work / "release" / "lessons"
        spec_dir = work / "kernels" / "sandbox"
        spec_dir.mkdir(parents=True)
        argv = sandboxed([sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                         limits, limits.total_seconds, network)
        (spec_dir / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "sandbox",
                                                          "language": "python"}))
        # The asynchronous manager: with a blocking client, nbclient waits forever for output after a timeout.
        manager = AsyncKernelManager(kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(work / "kernels")]),
                                kernel_name="sandbox", transport="ipc", ip=str(work / "kernel"))
        deadline = time.monotonic() + limits.total_seconds
        errors, current = [], {"cell": None}

        def note_error(cell, cell_index, execute_reply):
            content = execute_reply["content"]
            message = (str(content.get("evalue") or "").splitlines() or [""])[0][:200]
            errors.append(f"cell {cell_index} raised {content.get('ename')}: {message}")

        client = _CappedClient(
            notebook, km=manager, allow_errors=True, startup_timeout=120,
            resources={"metadata": {"path": str(lessons)}},
            timeout_func=lambda cell: max(1, int(min(limits.cell_seconds, deadline - time.monotonic()))),
            on_cell_start=lambda cell, cell_index: current.update(cell=cell_index),
            on_cell_error=note_error,
        )
        client.output_budget = limits.output_kb * 1024
        started = time.monotonic()
        try:
            # The kernel's own stdout and stderr (not the notebook's outputs) would reach the grader's terminal.
            client.execute(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env=sandbox_environment(work, work / "release"))
            outcome = "ran to the end"
        except CellTimeoutError:
            outcome = f"stopped: cell {current['cell']} ran past the time limit"
        except DeadKernelError:
            outcome = f"stopped: the kernel died in cell {current['cell']} (it exited or ran out of memory)"
        except Exception as error:  # noqa: BLE001 - whatever else stops a run is reported, grading goes on
            outcome = f"stopped: {type(error).__name__}: {str(error)[:200]}"
        report = [f"notebook run: {outcome} in {time.monotonic() - started:.1f} s"]
        if getattr(client, "_output_dropped", False):
            report.append(f"output beyond {limits.output_kb} KB was dropped")
        return report + errors
