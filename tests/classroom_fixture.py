"""A miniature course for the classroom tests: a package ``minicourse`` and one lesson with three exercises.

It follows the course's conventions exactly (``GRADED``, ``<exercise>_cases``, ``check_<exercise>``,
solution markers), so the release and the grader see it as they see ``unet_lib``, but it needs
only NumPy: a kernel starts in about a second. ``double`` and ``running_total`` are checked through
``core.verify`` (graded in "answers" mode); ``shout`` has a check with its own comparison
("self-judged" mode).
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import nbformat

REPO_ROOT = Path(__file__).resolve().parent.parent

ARITH = '''"""Reference answers of the mini course."""

import numpy as np


def double(x):
    """Return ``2 * x`` as floats.

    Args:
        x: numbers, any shape.
    """
    doubled = np.multiply(np.asarray(x, dtype=float), 2.0)
    return doubled


def running_total(x):
    """Return the running total of ``x``."""
    totals = np.cumsum(np.asarray(x, dtype=float))
    return totals


def shout(word):
    """Return ``word`` in capitals with an exclamation mark."""
    loud = word.upper() + "!"
    return loud


def describe(x):
    """A helper the lesson uses that is not an exercise."""
    return f"{len(x)} values"
'''

CHECKS = '''"""Checks of the mini course."""

from minicourse.arith import double, running_total, shout
from minicourse.checks.core import Case, CheckFailed, verify

GRADED = {
    "double": {"function": "minicourse.arith.double", "lessons": ["00_mini"], "points": 1},
    "running_total": {"function": "minicourse.arith.running_total", "lessons": ["00_mini"], "points": 2},
    "shout": {"function": "minicourse.arith.shout", "lessons": ["00_mini"], "points": 1},
}


def double_cases():
    return [Case(f"{len(x)} values", (x,), double(x)) for x in ([1, 2, 3], [[0.5, -1.0]])]


def double_hidden_cases():
    return [Case("a 2x2 array", ([[1, 2], [3, 4]],), None)]


def check_double(fn, cases=None):
    verify("double", fn, double_cases() if cases is None else cases)


def running_total_cases():
    return [Case("four values", ([1, 2, 3, 4],), running_total([1, 2, 3, 4]))]


def running_total_hidden_cases():
    return [Case("one value", ([7],), None)]


def check_running_total(fn, cases=None):
    verify("running_total", fn, running_total_cases() if cases is None else cases, rtol=1e-3)


def shout_cases():
    return [Case(word, (word,), shout(word)) for word in ("hi", "unet")]


def shout_hidden_cases():
    return [Case("a sentence", ("to the lab",), None)]


def check_shout(fn, cases=None):
    for case in shout_cases() if cases is None else cases:
        got = fn(*case.args)
        if got != case.expected:
            raise CheckFailed(f"shout: case {case.label!r}: expected {case.expected!r}, got {got!r}")
    print("shout: all cases match")
'''

SOLUTIONS = {
    "double": "doubled = np.multiply(np.asarray(x, dtype=float), 2.0)\nreturn doubled",
    "running_total": "totals = np.cumsum(np.asarray(x, dtype=float))\nreturn totals",
    "shout": 'loud = word.upper() + "!"\nreturn loud',
}
ARGUMENT = {"double": "x", "running_total": "x", "shout": "word"}


def exercise_cell(name: str, body: str, top_level: str = "") -> str:
    """The source of an exercise cell defining ``name`` with ``body`` between the solution markers."""
    indented = "\n".join(f"    {line}" for line in body.splitlines())
    return (f"{top_level}def {name}({ARGUMENT[name]}):\n    \"\"\"Your turn.\"\"\"\n    ### BEGIN SOLUTION\n"
            f"{indented}\n    ### END SOLUTION")


def lesson_cells(bodies: dict[str, str] | None = None, top_level: dict[str, str] | None = None,
                 extra: str = "") -> list:
    """The lesson's cells; ``bodies``/``top_level`` replace an exercise's solution or prepend code to its cell."""
    bodies = {**SOLUTIONS, **(bodies or {})}
    top_level = top_level or {}
    cells = [
        nbformat.v4.new_markdown_cell("# Try the mini course\n\n**What you'll do**\n\n**What you'll learn**\n\n"
                                      "**What you'll need**\n\n## Summary"),
        nbformat.v4.new_code_cell("import numpy as np\n\nfrom minicourse.arith import describe\n"
                                  "from minicourse.checks.arith import check_double, check_running_total, check_shout"),
        nbformat.v4.new_code_cell(extra or "print(describe([1, 2]))"),
    ]
    for name in SOLUTIONS:
        cells.append(nbformat.v4.new_code_cell(exercise_cell(name, bodies[name], top_level.get(name, ""))))
        cells.append(nbformat.v4.new_code_cell(f'"""Self-check: {name}."""\ncheck_{name}({name})'))
    for index, cell in enumerate(cells):
        cell["id"] = f"cell-{index:02d}"
    return cells


def write_notebook(path: Path, cells: list) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = cells
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def make_course(root: Path) -> tuple[Path, Path]:
    """Write the mini course under ``root``; return (lessons folder, package folder)."""
    package = root / "minicourse"
    (package / "checks").mkdir(parents=True)
    (package / "__init__.py").write_text('"""The mini course."""\n')
    (package / "arith.py").write_text(ARITH)
    (package / "checks" / "__init__.py").write_text('"""Checks."""\n')
    shutil.copy(REPO_ROOT / "unet_lib" / "checks" / "core.py", package / "checks" / "core.py")
    (package / "checks" / "arith.py").write_text(CHECKS)
    write_notebook(root / "lessons" / "00_mini.ipynb", lesson_cells())
    return root / "lessons", package


@functools.cache
def course_release() -> Path:
    """The student release of the real course, built once per test session (it records the model checks too)."""
    from course_tools.release import build_release

    folder = Path(tempfile.mkdtemp(prefix="course-release-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    build_release(folder / "release", REPO_ROOT / "lessons", REPO_ROOT / "unet_lib")
    return folder / "release"
