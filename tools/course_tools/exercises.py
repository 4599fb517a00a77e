"""Find the exercises: declared in ``GRADED`` of the checks modules; answer cells and self-checks in the lessons.

Both are found by reading source (``ast``), never by importing it, so discovering the exercises of a
package does not load Keras, and a package other than ``unet_lib`` (a test fixture) works the same.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Mapping
from pathlib import Path

from unet_lib.answers import BEGIN_SOLUTION, END_SOLUTION
from unet_lib.course import LESSON_NAME

BEGIN_HIDDEN_TESTS = "### BEGIN HIDDEN TESTS"
END_HIDDEN_TESTS = "### END HIDDEN TESTS"
STUB_LINES = ("# YOUR CODE HERE", "raise NotImplementedError()")
"""What replaces a solution, as nbgrader writes it, so nbgrader users recognise it."""



KINDS = ("call", "block", "model")
"""How an exercise's function is graded: called on its cases' arguments ("call"), or, for a function that builds
Keras layers, called on ``keras.Input`` tensors ("block") or with keyword arguments ("model") and the model it builds
summarised by what it computes (:mod:`unet_lib.checks.model`)."""


@dataclasses.dataclass(frozen=True)
class GradedExercise:
    """An exercise, as its checks module declares it in ``GRADED``: the one place it is declared.

    ``GRADED = {"<name>": {"function": "<package>.module.function", "lessons": ["NN_topic"], "points": N,
    "kind": "call"}}`` (``kind`` optional). Beside it, in the same module: ``<name>_cases()`` (the self-check's
    cases, with the reference's answers), ``<name>_hidden_cases()`` (cases only grading uses, inputs only) and
    ``check_<name>(function, cases=None)``.

    Attributes:
        name: the exercise, e.g. ``"one_hot"``.
        checks_module: dotted module name, e.g. ``"unet_lib.checks.masks"``.
        function: dotted name of the reference function the learner writes.
        lessons: the lessons (file stems) whose answer cell asks for it and whose self-check grades it.
        points: what its self-check is worth in each of those lessons.
        kind: one of :data:`KINDS`.
    """

    name: str
    checks_module: str
    function: str
    lessons: tuple[str, ...]
    points: int
    kind: str = "call"


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


def default_package_dir() -> Path:
    """The folder of the installed ``unet_lib`` (the repository's, with an editable install)."""
    import unet_lib

    return Path(unet_lib.__file__).resolve().parent


def discover_exercises(package_dir: str | Path) -> dict[str, GradedExercise]:
    """Every exercise declared in a ``GRADED`` dict of a module under ``package_dir/checks/``.

    Args:
        package_dir: the package folder, e.g. ``unet_lib/``.

    Returns:
        Exercise name -> :class:`GradedExercise`, sorted by name.

    Raises:
        ValueError: if ``package_dir`` has no ``checks/`` folder, a ``GRADED`` entry is not a literal declaration
            as :class:`GradedExercise` describes, or two modules claim the same exercise.
    """
    package_dir = Path(package_dir)
    checks_dir = package_dir / "checks"
    if not checks_dir.is_dir():
        raise ValueError(f"package_dir must be a package with a checks/ folder, got {str(package_dir)!r}")
    exercises: dict[str, GradedExercise] = {}
    for path, module, graded in _graded_constants(package_dir):
        if not isinstance(graded, dict):
            raise ValueError(f"{path}: GRADED must be a literal dict of exercise name -> declaration")
        for name, declared in graded.items():
            if name in exercises:
                first = exercises[name].checks_module
                raise ValueError(f"exercise {name!r} is GRADED in both {first} and {module}")
            exercises[name] = _declaration(path, module, name, declared)
    return dict(sorted(exercises.items()))


def _declaration(path: Path, module: str, name, declared) -> GradedExercise:
    wanted = ('{"function": "<package>.module.function", "lessons": ["NN_topic", ...], "points": N, '
              '"kind": "call", "block" or "model" (optional)}')
    if not isinstance(name, str) or not isinstance(declared, dict) or not {"function", "lessons", "points"} <= set(
            declared) or not set(declared) <= {"function", "lessons", "points", "kind"}:
        raise ValueError(f"{path}: GRADED[{name!r}] must be {wanted}, got {declared!r}")
    function, lessons, points, kind = (declared["function"], declared["lessons"], declared["points"],
                                       declared.get("kind", "call"))
    if not (isinstance(function, str) and isinstance(lessons, list) and lessons
            and all(isinstance(lesson, str) and LESSON_NAME.match(f"{lesson}.ipynb") for lesson in lessons)
            and isinstance(points, int) and not isinstance(points, bool) and points > 0 and kind in KINDS):
        raise ValueError(f"{path}: GRADED[{name!r}] must be {wanted}, got {declared!r}")
    return GradedExercise(name, module, function, tuple(lessons), points, kind)


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
                f"exercise declared in a checks module's GRADED (known: {sorted(known)})"
            )
        found += [LessonExercise(call.func.id[len("check_"):], index, check_index,
                                 ast.get_source_segment(check_source, call)) for call in calls]
    return found


def declaration_problems(package_dir: str | Path, lessons_dir: str | Path, every_lesson: bool = True) -> list[str]:
    """Where the exercises' declarations (``GRADED``), their checks modules and the lessons disagree.

    Each declared exercise needs its reference function in the package, ``<name>_cases``, ``<name>_hidden_cases``
    and ``check_<name>`` in its checks module, and exactly one answer cell (with its self-check after it) in each
    lesson it names, and in no other lesson. Hidden cases live in the checks module only: a lesson holding
    ``### BEGIN HIDDEN TESTS`` is a problem too (the nbgrader release writes them from the declaration).

    Args:
        package_dir, lessons_dir: the package and the folder of lessons.
        every_lesson: whether ``lessons_dir`` must hold every lesson the declarations name (not so for a release of
            some of them).

    Returns:
        One message per disagreement, e.g. ``"04_unet.ipynb asks for conv_block, whose GRADED names lessons
        ['03_skip_connections']"``; empty when all agree.
    """
    import json

    package_dir, lessons_dir = Path(package_dir), Path(lessons_dir)
    problems = []
    known = discover_exercises(package_dir)
    for exercise in known.values():
        module_path = package_dir.parent.joinpath(*exercise.checks_module.split(".")).with_suffix(".py")
        defined = {node.name for node in ast.parse(module_path.read_text(encoding="utf-8")).body
                   if isinstance(node, ast.FunctionDef)}
        for needed in (f"{exercise.name}_cases", f"{exercise.name}_hidden_cases", f"check_{exercise.name}"):
            if needed not in defined:
                problems.append(f"{exercise.checks_module} declares {exercise.name} but defines no {needed}()")
        module, _, function = exercise.function.rpartition(".")
        function_path = package_dir.parent.joinpath(*module.split(".")).with_suffix(".py")
        if not function_path.is_file() or function not in {
                node.name for node in ast.parse(function_path.read_text(encoding="utf-8")).body
                if isinstance(node, ast.FunctionDef)}:
            problems.append(f"{exercise.name}: its function {exercise.function} is defined nowhere in the package")
    lessons = {path.stem: path for path in sorted(lessons_dir.glob("*.ipynb")) if LESSON_NAME.match(path.name)}
    for exercise in known.values():
        problems += [f"{exercise.name}: GRADED names lesson {lesson}, which {lessons_dir} does not hold"
                     for lesson in exercise.lessons if lesson not in lessons and every_lesson]
    for stem, path in lessons.items():
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        if any(BEGIN_HIDDEN_TESTS in _source(cell) for cell in cells):
            problems.append(f"{path.name} holds {BEGIN_HIDDEN_TESTS}: hidden cases belong in the checks module's "
                            "<exercise>_hidden_cases()")
        try:
            asked = [found.exercise for found in lesson_exercises(cells, known, path.name)]
        except ValueError as error:
            problems.append(str(error))
            continue
        declared = sorted(name for name, exercise in known.items() if stem in exercise.lessons)
        for name in sorted(set(asked) | set(declared)):
            if asked.count(name) > 1:
                problems.append(f"{path.name} asks for {name} {asked.count(name)} times")
            elif name not in declared:
                problems.append(f"{path.name} asks for {name}, whose GRADED names lessons {list(known[name].lessons)}")
            elif name not in asked:
                problems.append(f"{path.name} has no answer cell for {name}, which GRADED says it grades")
    return problems


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
