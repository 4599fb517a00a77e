"""Test-suite hooks shared by the unit tests and the nbval run over lessons/.

Native libraries (TensorFlow, XLA, CUDA stubs) can write to a kernel's stderr at any moment. In
lax mode nbval only fails on errors, but a cell marked ``# NBVAL_CHECK_OUTPUT`` compares its
outputs, and stray stderr would then fail it for reasons that have nothing to do with the lesson.
The hook below leaves stderr streams out of that comparison; stdout and rich outputs still count.
"""

from __future__ import annotations

import functools


def _without_stderr(outputs):
    return [o for o in outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        compare = getattr(item, "compare_outputs", None)
        if compare is None or not hasattr(item, "cell"):
            continue  # not an nbval cell

        @functools.wraps(compare)
        def compare_ignoring_stderr(test, ref, skip_compare=None, _compare=compare):
            return _compare(_without_stderr(test), _without_stderr(ref), skip_compare)

        item.compare_outputs = compare_ignoring_stderr


def pytest_terminal_summary(terminalreporter):
    """Name the folder where the browser tests left their screenshots, so a person can look at them."""
    import os
    from pathlib import Path

    screenshots = Path(__file__).parent / "test-artifacts" / "browser"
    if screenshots.is_dir() and any(screenshots.glob("*.png")):
        terminalreporter.write_line(f"Browser test screenshots: {os.path.relpath(screenshots)}/")
