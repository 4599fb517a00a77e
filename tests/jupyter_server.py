"""Start and always stop a real JupyterLab server for the end-to-end tests."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_lab(scratch_dir: Path):
    """Start `make lab` from this venv on a free localhost port; yield (base_url, token); always stop it.

    The server opens a copy of lessons/ (with media/ beside it, so figure links resolve) made in
    ``scratch_dir``: whatever a test runs or JupyterLab autosaves never touches the committed lessons.
    Skips the calling test when not run inside the venv that `make lab` creates.
    """
    venv = Path(sys.prefix)
    if not (venv / ".installed").exists():
        pytest.skip("not running inside the venv that `make lab` creates (e.g. a conda environment)")
    port, token = _free_port(), "course-test-token"
    # Scratch user settings: render every cell (JupyterLab otherwise skips off-screen cells, which a
    # test cannot then find), and no news pop-up over the page. Workspaces stay in the scratch folder too.
    settings_dir = scratch_dir / "lab-settings"
    for plugin, settings in {"notebook-extension/tracker": {"windowingMode": "none"},
                             "apputils-extension/notification": {"fetchNews": "false"}}.items():
        path = settings_dir / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))
    lab_args = (f"--no-browser --port={port} --ServerApp.ip=127.0.0.1 --IdentityProvider.token={token} "
                f"--LabApp.user_settings_dir={settings_dir} --LabApp.workspaces_dir={scratch_dir / 'workspaces'}")
    lessons_copy = scratch_dir / "course" / "lessons"
    shutil.copytree(REPO_ROOT / "lessons", lessons_copy, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    if (REPO_ROOT / "media").is_dir():
        shutil.copytree(REPO_ROOT / "media", lessons_copy.parent / "media")
    environment = {**os.environ, "JUPYTER_RUNTIME_DIR": str(scratch_dir / "runtime")}
    server = subprocess.Popen(["make", "-s", "lab", f"VENV={venv}", f"LAB_ARGS={lab_args}",
                               f"LESSONS={lessons_copy}"], cwd=REPO_ROOT,
                              env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base_url}/api/status?token={token}", timeout=5) as response:
                    json.load(response)
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "JupyterLab did not answer within 90 s"
                time.sleep(0.5)
        yield base_url, token
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=30)
