"""The two tiers of the suite: the end of a run says what was left out, and why."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _run(pytester, *arguments):
    pytester.makeconftest((REPO_ROOT / "conftest.py").read_text())
    pytester.makeini("[pytest]\nmarkers =\n    extended: the extended tier\n")
    pytester.makepyfile(test_sample="""
import shutil

import pytest


def test_core():
    assert True


@pytest.mark.extended
@pytest.mark.skipif(shutil.which("chromium") is None, reason="no chromium")
def test_in_a_browser():
    assert True
""")
    return pytester.runpytest_subprocess(*arguments)


def test_make_test_says_the_extended_tier_did_not_run_and_how_to_run_it(pytester):
    result = _run(pytester, "-m", "not extended")
    result.assert_outcomes(passed=1, deselected=1)
    assert result.outlines[-2].startswith("Not run: the extended tier, 1 tests (browser, grading sandbox")
    assert "`make test-all`" in result.outlines[-2]


def test_a_test_skipped_for_a_missing_system_package_says_which_and_how_to_install_it(pytester, monkeypatch):
    monkeypatch.setenv("PATH", str(pytester.path))  # no chromium, bwrap or cgexec on this PATH
    result = _run(pytester)
    result.assert_outcomes(passed=1, skipped=1)
    last = result.outlines[-2]
    assert last.startswith("Skipped: the browser tests and the grading sandbox tests, for want of bubblewrap, "
                           "cgroup-tools, chromium."), last
    assert "sudo apt-get install bubblewrap cgroup-tools chromium" in last
