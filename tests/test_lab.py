"""`make lab` starts a JupyterLab server that serves the lessons."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_make_lab_serves_lesson_00(repo_root, tmp_path):
    venv = Path(sys.prefix)
    if not (venv / ".installed").exists():
        pytest.skip("not running inside the venv that `make lab` creates (e.g. a conda environment)")
    port, token = _free_port(), "course-test-token"
    lab_args = (f"--no-browser --port={port} --ServerApp.ip=127.0.0.1 --IdentityProvider.token={token} "
                f"--ServerApp.open_browser=False")
    environment = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path), "JUPYTER_CONFIG_DIR": str(tmp_path)}
    server = subprocess.Popen(["make", "-s", "lab", f"VENV={venv}", f"LAB_ARGS={lab_args}"], cwd=repo_root,
                              env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/api/contents/00_setup.ipynb?token={token}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    model = json.load(response)
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "JupyterLab did not answer within 60 s"
                time.sleep(0.5)
        assert model["type"] == "notebook"
        assert model["content"]["cells"][0]["source"].startswith("# Set up the course")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}", timeout=10) as response:
            assert response.status == 200
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
