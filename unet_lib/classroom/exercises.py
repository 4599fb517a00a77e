"""Find the exercises: ``GRADED`` in the checks modules, solution cells and self-checks in the lessons.

Both are found by reading source (``ast``), never by importing it, so discovering the exercises of a
package does not load Keras, and a package other than ``unet_lib`` (a test fixture) works the same.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN_TESTS = "### BEGIN HIDDEN TESTS"
END_HIDDEN_TESTS = "### END HIDDEN TESTS"
STUB_LINES = ("# YOUR CODE HERE", "raise NotImplementedError()")
"""What replaces a solution, as nbgrader writes it, so nbgrader users recognise it."""

LESSON_NAME = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")


@dataclasses.dataclass(frozen=True)
class GradedExercise:
    """An exercise named in a checks module's ``GRADED``.

    Attributes:
        name: the exercise, e.g. ``"one_hot"``; its check is ``check_<name>`` and its cases
            ``<name>_cases`` in ``checks_module``.
        checks_module: dotted module name, e.g. ``"unet_lib.checks.masks"``.
        functions: dotted names of the reference functions the learner writes.
    """

    name: str
    checks_module: str
    functions: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class LessonExercise:
    """Where an exercise sits in a lesson.

    Attributes:
        exercise: the exercise name (a key of ``GRADED``).
        solution_cell: index of the code cell holding the solution markers.
        check_cell: index of the self-check cell after it.
        check_call: source of the ``check_<exercise>(...)`` call in that cell, e.g. ``"check_one_hot(one_hot)"``.
    """

    exercise: str
    solution_cell: int
    check_cell: int
    check_call: str


def _graded_constants(package_dir: Path):
    """``(path, module, value)`` for each top-level ``GRADED = <literal>`` in ``package_dir/checks/*.py``.

    ``value`` is ``None`` when the right-hand side is not a literal. Read with ``ast``, never imported.
    """
    for path in sorted((package_dir / "checks").glob("*.py")):
        module = f"{package_dir.name}.checks.{path.stem}"
        for node in ast.parse(path.read_text(encoding="utf-8"), filename=str(path)).body:
            if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["GRADED"]:
                try:
                    yield path, module, ast.literal_eval(node.value)
                except ValueError:
                    yield path, module, None


def discover_exercises(package_dir: str | Path) -> dict[str, GradedExercise]:
    """Every exercise named in a ``GRADED`` dict of a module under ``package_dir/checks/``.

    Args:
        package_dir: the package folder, e.g. ``unet_lib/``.

    Returns:
        Exercise name -> :class:`GradedExercise`, sorted by name.

    Raises:
        ValueError: if ``package_dir`` has no ``checks/`` folder, a ``GRADED`` is not a literal
            ``{str: [str, ...]}``, or two modules claim the same exercise.
    """
    package_dir = Path(package_dir)
    checks_dir = package_dir / "checks"
    if not checks_dir.is_dir():
        raise ValueError(f"package_dir must be a package with a checks/ folder, got {str(package_dir)!r}")
    exercises: dict[str, GradedExercise] = {}
    for path, module, graded in _graded_constants(package_dir):
        if not isinstance(graded, dict) or not all(
            isinstance(name, str) and isinstance(functions, list) and all(isinstance(f, str) for f in functions)
            for name, functions in graded.items()
        ):
            raise ValueError(f"{path}: GRADED must be a literal dict of exercise name -> list of dotted names")
        for name, functions in graded.items():
            if name in exercises:
                first = exercises[name].checks_module
                raise ValueError(f"exercise {name!r} is GRADED in both {first} and {module}")
            exercises[name] = GradedExercise(name, module, tuple(functions))
    return dict(sorted(exercises.items()))


def _check_calls(source: str) -> list[ast.Call]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [node for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.startswith("check_")]


def lesson_exercises(cells: list, known: Mapping[str, GradedExercise], where: str = "lesson") -> list[LessonExercise]:
    """The exercises of a lesson, in order.

    Args:
        cells: the notebook's cells (``nbformat`` nodes or dicts with ``cell_type`` and ``source``).
        known: the exercises of the package, from :func:`discover_exercises`.
        where: how to name the lesson in error messages.

    Raises:
        ValueError: if a solution cell's next code cell calls no ``check_<exercise>`` of a known exercise.
    """
    found = []
    code_cells = [i for i, cell in enumerate(cells) if cell["cell_type"] == "code"]
    for position, index in enumerate(code_cells):
        if BEGIN_SOLUTION not in _source(cells[index]):
            continue
        check_index = code_cells[position + 1] if position + 1 < len(code_cells) else None
        check_source = _source(cells[check_index]) if check_index is not None else ""
        calls = [call for call in _check_calls(check_source) if call.func.id[len("check_"):] in known]
        if not calls:
            raise ValueError(
                f"{where} cell {index}: the code cell after a solution must call check_<exercise>(...) for an "
                f"exercise named in a checks module's GRADED (known: {sorted(known)})"
            )
        found += [LessonExercise(call.func.id[len("check_"):], index, check_index,
                                 ast.get_source_segment(check_source, call)) for call in calls]
    return found


def _source(cell) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def marked_regions(source: str, begin: str, end: str) -> list[list[str]]:
    """The lines strictly between each ``begin`` line and the next ``end`` line of ``source``.

    Raises:
        ValueError: if the markers are not balanced.
    """
    regions, current = [], None
    for line in source.splitlines():
        if line.strip() == begin:
            if current is not None:
                raise ValueError(f"source has a {begin} inside another such region")
            current = []
        elif line.strip() == end:
            if current is None:
                raise ValueError(f"source has an {end} without a {begin}")
            regions.append(current)
            current = None
        elif current is not None:
            current.append(line)
    if current is not None:
        raise ValueError(f"source has a {begin} without an {end}")
    return regions


def solution_regions(source: str) -> list[list[str]]:
    """The lines strictly between each ``### BEGIN SOLUTION`` and ``### END SOLUTION`` of ``source``.

    Raises:
        ValueError: if the markers are not balanced.
    """
    return marked_regions(source, BEGIN_SOLUTION, END_SOLUTION)


def hidden_test_regions(source: str) -> list[list[str]]:
    """The lines strictly between each ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` of ``source``.

    A self-check cell may hold such regions: test cases that nbgrader (and the course's release)
    remove from the student copy and put back when grading.

    Raises:
        ValueError: if the markers are not balanced.
    """
    return marked_regions(source, BEGIN_HIDDEN_TESTS, END_HIDDEN_TESTS)


def strip_hidden_tests(source: str) -> str:
    """``source`` without its hidden-test regions, markers included, as nbgrader's release writes it.

    Example:
        >>> strip_hidden_tests("check(f)\\n### BEGIN HIDDEN TESTS\\nassert f(2) == 4\\n### END HIDDEN TESTS")
        'check(f)'
    """
    return _replace_regions(source, BEGIN_HIDDEN_TESTS, END_HIDDEN_TESTS, lambda indent: [])


def strip_solutions(source: str) -> str:
    """``source`` with each solution region, markers included, replaced by the nbgrader stub.

    The stub keeps the indentation of the ``### BEGIN SOLUTION`` line, so a region inside a
    function body stays a valid body.

    Example:
        >>> strip_solutions("def f():\\n    ### BEGIN SOLUTION\\n    return 1\\n    ### END SOLUTION")
        'def f():\\n    # YOUR CODE HERE\\n    raise NotImplementedError()'
    """
    return _replace_regions(source, BEGIN_SOLUTION, END_SOLUTION,
                            lambda indent: [indent + stub for stub in STUB_LINES])


def _replace_regions(source: str, begin: str, end: str, replacement) -> str:
    """``source`` with each ``begin`` ... ``end`` region, markers included, replaced by
    ``replacement(indent)`` (a list of lines; ``indent`` is the ``begin`` line's indentation).

    Raises:
        ValueError: if the markers are not balanced.
    """
    marked_regions(source, begin, end)  # raises on unbalanced markers
    lines, inside = [], False
    for line in source.splitlines():
        if line.strip() == begin:
            lines += replacement(line[: len(line) - len(line.lstrip())])
            inside = True
        elif line.strip() == end:
            inside = False
        elif not inside:
            lines.append(line)
    return "\n".join(lines)
