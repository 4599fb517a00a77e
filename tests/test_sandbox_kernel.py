"""The bwrap command the grader's kernelspec runs: what the sandbox shows, in which order (mounts apply in order)."""

import json
import shutil
import sys
from pathlib import Path

import pytest

from unet_lib.classroom.sandbox_kernel import KERNEL_NAME, bwrap_command, write_kernelspec

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="Debian's bubblewrap is not installed")


def _connection(tmp_path: Path, transport: str = "ipc") -> Path:
    path = tmp_path / "kernel.json"
    path.write_text(json.dumps({"transport": transport, "ip": str(tmp_path / "sockets" / "kernel")}))
    (tmp_path / "sockets").mkdir()
    return path


def test_the_private_tmp_comes_before_every_bind_so_folders_under_tmp_stay_visible(tmp_path):
    notebook_dir = tmp_path / "autograded" / "alice" / "00_setup"
    notebook_dir.mkdir(parents=True)
    command = bwrap_command(_connection(tmp_path), notebook_dir)
    tmpfs = command.index("--tmpfs")
    binds = [index for index, word in enumerate(command) if word in ("--bind", "--ro-bind")]
    assert command[tmpfs + 1] == "/tmp" and tmpfs < min(binds)
    bound = {command[index + 1]: command[index] for index in binds}
    assert bound[str(notebook_dir)] == "--bind" and bound[str(tmp_path / "sockets")] == "--bind"
    assert bound[str(Path(sys.prefix).resolve())] == "--ro-bind"
    assert {"--unshare-all", "--die-with-parent", "--new-session", "--clearenv"} <= set(command)
    assert command[-6:] == ["--", sys.executable, "-m", "ipykernel_launcher", "-f", str(tmp_path / "kernel.json")]


def test_a_connection_over_tcp_is_refused_and_the_kernelspec_names_this_module(tmp_path):
    with pytest.raises(ValueError, match="connection_file must use the ipc transport"):
        bwrap_command(_connection(tmp_path, transport="tcp"), tmp_path)
    folder = write_kernelspec(tmp_path / "jupyter")
    assert folder == tmp_path / "jupyter" / "kernels" / KERNEL_NAME
    spec = json.loads((folder / "kernel.json").read_text())
    assert spec["argv"] == [sys.executable, "-m", "unet_lib.classroom.sandbox_kernel", "{connection_file}"]
