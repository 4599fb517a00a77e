"""Test-suite hooks shared by the unit tests and the nbval run over lessons/.

The suite has two tiers. ``make test`` runs everything a learner's or contributor's change can break, every lesson
under nbval included, and leaves out the tests marked ``extended``: the browser, the grading sandbox, nbgrader, the
blank student copies run top to bottom and the other Keras backends. ``make test-all`` (what CI runs) runs both. The
summary at the end of a run says what was left out and why: a tier not asked for, or a system package missing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

SYSTEM_PACKAGES = {
    "chromium": ("chromium", "the browser tests"),
    "bwrap": ("bubblewrap", "the grading sandbox tests"),
    "cgexec": ("cgroup-tools", "the grading sandbox tests"),
}
"""Command -> (the Debian package that installs it, the tests that need it)."""


@pytest.hookimpl(trylast=True)  # after the durations: the run's last lines
def pytest_terminal_summary(terminalreporter, config):
    """Say which tier did not run and which tests a missing system package skipped; name the screenshots."""
    screenshots = Path(__file__).parent / "test-artifacts" / "browser"
    if screenshots.is_dir() and any(screenshots.glob("*.png")):
        terminalreporter.write_line(f"Browser test screenshots: {os.path.relpath(screenshots)}/")
    deselected = [item for item in terminalreporter.stats.get("deselected", [])
                  if item.get_closest_marker("extended") is not None]
    if deselected:
        terminalreporter.write_line(
            f"Not run: the extended tier, {len(deselected)} tests (browser, grading sandbox, nbgrader, blank student "
            "copies, other backends). Run them with `make test-all`.")
    if not terminalreporter.stats.get("skipped"):
        return
    missing = sorted({package for command, (package, _) in SYSTEM_PACKAGES.items() if shutil.which(command) is None})
    if missing:
        needing = sorted({tests for command, (_, tests) in SYSTEM_PACKAGES.items() if shutil.which(command) is None})
        terminalreporter.write_line(
            f"Skipped: {' and '.join(needing)}, for want of {', '.join(missing)}. Install with "
            f"`sudo apt-get install {' '.join(missing)}` (Debian or Ubuntu), then run them with `make test-all`.")
