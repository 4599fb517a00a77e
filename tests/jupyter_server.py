"""Start and always stop a real JupyterLab server, the way `make lab` does, for the end-to-end tests.

The server is `make lab` itself, run in a scratch copy of the repository (or of a release): the
Makefile alone decides which folder JupyterLab serves and where it opens, so the tests cannot drift
from what a learner gets, and whatever a test runs or JupyterLab autosaves never touches lessons/.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import NamedTuple

import nbformat
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# What a scratch copy of the repository leaves out: environments, git, build and test outputs (as .gitignore).
COPY_IGNORED = shutil.ignore_patterns(".git", ".venv*", "__pycache__", "*.egg-info", ".pytest_cache", ".ruff_cache",
                                      ".ipynb_checkpoints", "build", "dist", "workbook", "test-artifacts", "*.keras")
# Markdown and HTML image links in a markdown cell: ![alt](target "title") and <img src="target">.
_IMAGE_LINK = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|<img\b[^>]*\bsrc=[\"']([^\"']+)[\"']")


class Lab(NamedTuple):
    """A running `make lab`: its address, its token, the lessons' folder and the notebook it opens (API paths,
    e.g. ``lessons`` and ``lessons/00_setup.ipynb``)."""

    base_url: str
    token: str
    lessons: str
    opened: str


def copy_repository(destination: Path) -> Path:
    """A scratch copy of the repository as `make lab` sees it (Makefile, lessons/, media/, ...); returns it."""
    shutil.copytree(REPO_ROOT, destination, ignore=COPY_IGNORED)
    return destination


def image_links(notebook: Path) -> list[str]:
    """The targets of every image in the notebook's markdown cells, in order (e.g. ``../media/unet.png``)."""
    cells = nbformat.read(notebook, as_version=4).cells
    return [match.group(1) or match.group(2) for cell in cells if cell.cell_type == "markdown"
            for match in _IMAGE_LINK.finditer(cell.source)]


def _venv() -> Path:
    venv = Path(sys.prefix)
    if not (venv / ".installed").exists():
        pytest.skip("not running inside the venv that `make lab` creates (e.g. a conda environment)")
    return venv


def _make_lab(lab_args: str = "", lessons: str | None = None, dry_run: bool = False) -> list[str]:
    # -o setup: the venv exists already (see _venv); never let a test reinstall it from a scratch copy.
    return ["make", "-s", *(["-n"] if dry_run else []), "-o", "setup", "lab", f"VENV={_venv()}",
            f"LAB_ARGS={lab_args}", *([f"LESSONS={lessons}"] if lessons else [])]


def lab_command(project: Path, lessons: str | None = None) -> dict[str, str]:
    """The ``--option=value`` arguments of the `jupyter lab` command that `make lab` in ``project`` runs."""
    completed = subprocess.run(_make_lab(lessons=lessons, dry_run=True), cwd=project, capture_output=True,
                               text=True, timeout=60, check=True)
    command = shlex.split(completed.stdout.strip().splitlines()[-1])
    environment = {}
    while "=" in command[0]:  # VARIABLE=value before the program
        name, value = command.pop(0).split("=", 1)
        environment[name] = value
    assert Path(command[0]).name == "jupyter" and command[1] == "lab", command
    return {**environment, **dict(argument[2:].split("=", 1) for argument in command[2:] if "=" in argument)}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_lab(scratch_dir: Path, project: Path | None = None, lessons: str | None = None,
                environment: dict[str, str] | None = None):
    """Run `make lab` on a free localhost port; yield a :class:`Lab`; always stop it.

    Args:
        scratch_dir: an empty folder for the copy, JupyterLab's settings, workspaces and runtime files.
        project: the folder to run `make lab` in (a release, say); default a fresh copy of the repository.
        lessons: passed as ``LESSONS=`` (e.g. ``workbook/lessons``); default the Makefile's own.
        environment: variables added to the server's (and so its kernels') environment, e.g. ``PYTHONPATH``.

    Only ``LAB_ARGS`` is added to the learner's command: no browser, the port, the token, and scratch
    settings that render every cell (JupyterLab otherwise skips off-screen cells, which a test cannot
    then find). Skips the calling test when not run inside the
    venv that `make lab` creates.
    """
    _venv()
    project = project or copy_repository(scratch_dir / "repository")
    port, token = _free_port(), "course-test-token"
    settings_dir = scratch_dir / "lab-settings"
    for plugin, settings in {"notebook-extension/tracker": {"windowingMode": "none"}}.items():
        path = settings_dir / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))
    lab_args = (f"--no-browser --port={port} --ServerApp.ip=127.0.0.1 --IdentityProvider.token={token} "
                f"--LabApp.user_settings_dir={settings_dir} --LabApp.workspaces_dir={scratch_dir / 'workspaces'}")
    environment = {**os.environ, "JUPYTER_RUNTIME_DIR": str(scratch_dir / "runtime"), **(environment or {})}
    server = subprocess.Popen(_make_lab(lab_args, lessons), cwd=project, env=environment,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                # `/` redirects to the page `make lab` opens, /lab/tree/<the lessons folder>/<the first lesson>.
                with urllib.request.urlopen(f"{base_url}/?token={token}", timeout=5) as response:
                    opened = urllib.parse.urlsplit(response.url).path
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "JupyterLab did not answer within 90 s"
                time.sleep(0.5)
        assert re.fullmatch(r"/lab/tree/.+\.ipynb", opened), f"`make lab` opens {opened}, not a lesson"
        opened = urllib.parse.unquote(opened.removeprefix("/lab/tree/"))
        yield Lab(base_url, token, str(Path(opened).parent), opened)
    finally:
        _stop(server)


def _stop(server: subprocess.Popen) -> None:
    """Stop `make` and what it started, by its process group: jupyter-lab outlives make, and can hang while it
    shuts down (a kernel still starting), so wait for the whole group, then kill what is left."""
    for stop_signal, grace_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, stop_signal)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            server.poll()  # reap make, so that it does not count as alive
            try:
                os.killpg(server.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)
