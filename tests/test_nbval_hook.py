"""The root conftest keeps stray native stderr from failing nbval's output comparison."""

import json

CELL_WITH_NATIVE_STDERR = "import os\nos.write(2, b'I0000 some native library says hello\\n')\nprint('result')"


def _notebook_with_stored_stdout_only():
    cell = {
        "cell_type": "code",
        "execution_count": 1,
        "id": "cell-0",
        "metadata": {},
        "source": "# NBVAL_CHECK_OUTPUT\n" + CELL_WITH_NATIVE_STDERR,
        "outputs": [{"output_type": "stream", "name": "stdout", "text": "result\n"}],
    }
    return {"cells": [cell], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                         "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def test_native_stderr_does_not_fail_a_compared_cell(pytester, repo_root):
    pytester.makeconftest((repo_root / "conftest.py").read_text())
    (pytester.path / "lesson.ipynb").write_text(json.dumps(_notebook_with_stored_stdout_only()))
    result = pytester.runpytest_subprocess("--nbval", "--nbval-current-env", "-p", "no:cacheprovider",
                                           "lesson.ipynb")
    result.assert_outcomes(passed=1)


def test_stdout_differences_still_fail(pytester, repo_root):
    pytester.makeconftest((repo_root / "conftest.py").read_text())
    notebook = _notebook_with_stored_stdout_only()
    notebook["cells"][0]["outputs"][0]["text"] = "another result\n"
    (pytester.path / "lesson.ipynb").write_text(json.dumps(notebook))
    result = pytester.runpytest_subprocess("--nbval", "--nbval-current-env", "-p", "no:cacheprovider",
                                           "lesson.ipynb")
    result.assert_outcomes(failed=1)
