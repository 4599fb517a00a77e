"""The student release: lessons and library without the solutions, with recorded reference answers.

``python -m course_tools release OUT_DIR`` writes:

- ``OUT_DIR/lessons/``: every lesson, each ``### BEGIN SOLUTION ... ### END SOLUTION`` region
  replaced by ``# YOUR CODE HERE`` / ``raise NotImplementedError()``, outputs cleared;
- ``OUT_DIR/<package>/``: a copy of the package in which the body of every exercise's function (declared in a
  ``GRADED`` dict, :class:`course_tools.exercises.GradedExercise`) is replaced the same way (signature and
  docstring kept), every ``<exercise>_cases()`` body by ``return recorded_cases("<exercise>")`` and every
  ``<exercise>_hidden_cases()`` body by ``return []``;
- ``OUT_DIR/<package>/checks/recorded/<exercise>.pkl``: the visible self-check's cases (each one's
  label, arguments and the reference's answer), recorded by running the instructor's copy; the
  tolerances stay in the released ``check_<exercise>``;
- the files to install it (``pyproject.toml``, ``environment.yml``, ``Makefile``, ``scripts/``,
  ``README.md``) and ``media/``, when the source has them, and ``release.json``, the manifest: each
  exercise's checks module and number of recorded cases, each lesson's exercise cells. No grader
  reads it; its presence marks the folder as an earlier release, which a rebuild may replace.

``python -m course_tools release COURSE --nbgrader`` writes an nbgrader course instead
(:func:`build_nbgrader_course`); run again on a course in use, it replaces only what it writes.

What still runs without the solutions: the library's non-graded code never calls a graded
function by name (it takes the learner's function as an argument, as ``train_unet(build_model=...)``
does), and a lesson uses the learner's own function after an exercise, never the library's
(:func:`release_problems` finds violations; a test keeps the course free of them). So a student who
runs a released lesson without solving anything meets only "not written yet" messages.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from course_tools import plain_data
from course_tools.exercises import (
    LESSON_NAME,
    STUB_LINES,
    GradedExercise,
    declaration_problems,
    default_package_dir,
    discover_exercises,
    lesson_exercises,
    solution_regions,
    strip_solutions,
)
from unet_lib.answers import ANSWERS_MODULE

MANIFEST = "release.json"
GRADING = "grading.json"
"""In an nbgrader course: what the course's grader compares (:func:`record_grading`); never handed out."""
NBGRADER_ASSIGNMENTS = "nbgrader_assignments"
"""The manifest key that only an nbgrader course's manifest has."""
WORKBOOK_NOTE = ("> **Your workbook.** The exercises here are blank: write each where its cell says "
                 "`raise NotImplementedError()`. Run All runs every cell that does not need an exercise you have not "
                 "written yet, and the lesson's last cell lists what is left.")
"""The line a student copy adds under each lesson's title."""

PROJECT_FILES = ("pyproject.toml", "environment.yml", "Makefile", "README.md", "scripts", "media", "lab_config")
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "recorded", "*.egg-info", ".ipynb_checkpoints")


def _locate_function(package_dir: Path, dotted: str) -> tuple[Path, str]:
    """``"unet_lib.reference.masks.one_hot"`` -> (``.../unet_lib/reference/masks.py``, ``"one_hot"``)."""
    parts = dotted.split(".")
    if parts[0] != package_dir.name or len(parts) < 3:
        raise ValueError(f"GRADED names must be dotted names inside {package_dir.name}, got {dotted!r}")
    for split in range(len(parts) - 1, 1, -1):
        module_path = package_dir.parent.joinpath(*parts[:split]).with_suffix(".py")
        if module_path.is_file():
            return module_path, ".".join(parts[split:])
    raise ValueError(f"GRADED names a function in no module of {package_dir}: {dotted!r}")


def _function_nodes(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    """Top-level functions and methods of top-level classes, by qualified name."""
    nodes = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            nodes[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    nodes[f"{node.name}.{item.name}"] = item
    return nodes


def _body_lines(node: ast.FunctionDef) -> tuple[int, int]:
    """0-based [start, end) line range of a function's body after its docstring."""
    body = node.body
    has_docstring = isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
        and isinstance(body[0].value.value, str)
    if body[0].lineno == node.lineno:
        raise ValueError(f"function {node.name!r} has its body on the def line; a release needs it on its own lines")
    start = body[0].end_lineno if has_docstring else body[0].lineno - 1
    return start, node.end_lineno


def replace_function_bodies(source: str, new_bodies: dict[str, list[str]], where: str = "module") -> str:
    """``source`` with the body (after the docstring) of each named function replaced.

    Args:
        source: a Python module's text.
        new_bodies: qualified function name (``"f"`` or ``"Class.method"``) -> the new body's lines,
            without indentation (the body's own indentation is added).
        where: how to name the module in error messages.

    Raises:
        ValueError: if a named function is not defined at the top level (or in a top-level class).
    """
    nodes = _function_nodes(ast.parse(source))
    missing = sorted(set(new_bodies) - set(nodes))
    if missing:
        raise ValueError(f"{where} defines no function {missing}")
    lines = source.splitlines(keepends=True)
    for name in sorted(new_bodies, key=lambda n: nodes[n].lineno, reverse=True):  # bottom up: line numbers hold
        node = nodes[name]
        start, end = _body_lines(node)
        indent = " " * node.body[-1].col_offset
        lines[start:end] = [f"{indent}{line}\n" if line else "\n" for line in new_bodies[name]]
    return "".join(lines)


def graded_bodies(package_dir: str | Path) -> dict[Path, list[tuple[int, int]]]:
    """Module file -> the 0-based ``[start, end)`` line ranges of its graded functions' bodies (the answers)."""
    package_dir = Path(package_dir)
    ranges: dict[Path, list[tuple[int, int]]] = {}
    for exercise in discover_exercises(package_dir).values():
        path, name = _locate_function(package_dir, exercise.function)
        node = _function_nodes(ast.parse(path.read_text(encoding="utf-8")))[name]
        ranges.setdefault(path, []).append(_body_lines(node))
    return ranges


def release_problems(lessons_dir: str | Path, package_dir: str | Path) -> list[str]:
    """Places that would crash in a release because they use a graded function's removed body.

    Two kinds: library code outside the graded functions and ``checks/`` that calls a graded
    function by name, and a lesson cell that uses a graded function from the package before the
    lesson's own exercise cell defines the learner's version (which replaces it from then on).

    Returns:
        One message per place, e.g. ``"unet_lib/train.py:12 calls graded unet_model"``; empty if none.
    """
    import nbformat  # here, not at the top: `python -m course_tools --help` need not load it

    package_dir, lessons_dir = Path(package_dir), Path(lessons_dir)
    exercises = discover_exercises(package_dir)
    graded = {e.function.rsplit(".", 1)[-1] for e in exercises.values()}
    graded_ranges = graded_bodies(package_dir)
    problems = []
    for path in sorted(package_dir.rglob("*.py")):
        if {"checks", "__pycache__"} & set(path.relative_to(package_dir).parts[:-1]):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # Names bound to the package or its modules: `masks.one_hot(...)` is ours, `keras.ops.one_hot(...)` not.
        ours = {package_dir.name} | {alias.asname or alias.name for node in ast.walk(tree)
                                     if isinstance(node, ast.ImportFrom)
                                     and (node.level or (node.module or "").split(".")[0] == package_dir.name)
                                     for alias in node.names}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            root = node.func
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(node.func, ast.Attribute) and getattr(root, "id", None) not in ours:
                continue
            called = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            inside_graded = any(start < node.lineno <= end for start, end in graded_ranges.get(path, []))
            if called in graded and not inside_graded:
                problems.append(f"{path.relative_to(package_dir.parent)}:{node.lineno} calls graded {called}")
    for lesson in sorted(lessons_dir.glob("*.ipynb")):
        problems += _lesson_problems(lesson.name, nbformat.read(lesson, as_version=4).cells, package_dir.name, graded)
    return list(dict.fromkeys(problems))  # one message per place, however many calls it holds


def _lesson_problems(lesson: str, cells: list, package: str, graded: set[str]) -> list[str]:
    """Uses of a graded library function in a lesson before the lesson's exercise defines the learner's own."""
    trees = {}
    for index, cell in enumerate(cells):
        if cell.cell_type == "code":
            try:
                trees[index] = ast.parse(cell.source)
            except SyntaxError:
                continue
    defined_at = {}  # graded name -> first cell that defines it (the learner's version, from then on)
    for index, tree in trees.items():
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in graded:
                defined_at.setdefault(node.name, index)
    problems, imported = [], {}
    for index, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == package:
                imported.update({alias.asname or alias.name: alias.name for alias in node.names
                                 if alias.name in graded})
            elif isinstance(node, ast.Attribute) and node.attr in graded and getattr(node.value, "id", None) == package:
                problems.append(f"{lesson} cell {index} uses graded {package}.{node.attr}")
            elif (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in imported
                  and index < defined_at.get(node.id, len(cells))):
                problems.append(f"{lesson} cell {index} uses the library's graded {imported[node.id]}, "
                                "which the release removes, before the lesson's exercise defines it")
    return problems


def _earlier_release(out_dir: Path) -> dict | None:
    """The manifest of the earlier release (or nbgrader course) in ``out_dir``; None if it is missing or empty.

    Raises:
        ValueError: if ``out_dir`` is a file, or holds files but no ``release.json`` holding a JSON object.
    """
    if not out_dir.exists():
        return None
    if not out_dir.is_dir():
        raise ValueError(f"out_dir must be a folder, got the file {str(out_dir)!r}")
    if not any(out_dir.iterdir()):
        return None
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # no manifest, or not one of ours: the folder is someone else's
        manifest = None
    if not isinstance(manifest, dict):
        raise ValueError(f"out_dir must be empty or an earlier release, got {str(out_dir)!r} with other files")
    return manifest


def _prepare_out_dir(out_dir: Path) -> None:
    """Make ``out_dir`` an empty folder for a student release, removing an earlier student release in it."""
    earlier = _earlier_release(out_dir)
    if earlier is not None and NBGRADER_ASSIGNMENTS in earlier:
        # Removing it would lose the instructor's gradebook.db, submissions and feedback.
        raise ValueError(f"out_dir must be empty or an earlier student release, got the nbgrader course "
                         f"{str(out_dir)!r}: rebuild it with --nbgrader, which keeps its gradebook and submissions")
    if earlier is not None:
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)


def _record(package_dir: Path, exercises: dict[str, GradedExercise], recorded_dir: Path) -> dict[str, dict]:
    """Run the instructor's ``<exercise>_cases()`` in a fresh process and save what they return; return each
    exercise's summary."""
    recorded_dir.mkdir(parents=True, exist_ok=True)
    spec = {"package": package_dir.name, "out": str(recorded_dir),
            "exercises": {name: e.checks_module for name, e in exercises.items()}}
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(package_dir.parent), str(default_package_dir().parent)]))
    completed = subprocess.run([sys.executable, "-m", "course_tools.record", json.dumps(spec)],
                               env=environment, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"recording the reference answers failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.splitlines()[-1])


def build_release(out_dir: str | Path, lessons_dir: str | Path | None = None,
                  package_dir: str | Path | None = None) -> dict:
    """Write the student release into ``out_dir`` (see the module docstring for what it holds).

    Args:
        out_dir: where to write; must be empty, missing, or an earlier student release (which is replaced),
            not an nbgrader course (see :func:`build_nbgrader_course`).
        lessons_dir: the solved lessons; default ``lessons/`` beside the package folder.
        package_dir: the package with the reference code; default the installed ``unet_lib``.

    Returns:
        The manifest written to ``out_dir/release.json``: the package name, each exercise's
        checks module and number of recorded cases, and each lesson's exercises.

    Raises:
        ValueError: if a folder is missing, ``out_dir`` holds something else, or the exercises' declarations,
            checks modules and lessons disagree (:func:`course_tools.exercises.declaration_problems`).
    """
    import nbformat  # here, not at the top: `python -m course_tools --help` need not load it

    package_dir = Path(package_dir or default_package_dir()).resolve()
    lessons_dir = Path(lessons_dir or package_dir.parent / "lessons").resolve()
    out_dir = Path(out_dir).resolve()
    if not lessons_dir.is_dir():
        raise ValueError(f"lessons_dir must be a folder of lessons, got {str(lessons_dir)!r}")
    if any(out_dir == source or out_dir in source.parents or source in out_dir.parents
           for source in (package_dir, lessons_dir)):
        raise ValueError(f"out_dir must not be the source itself, got {str(out_dir)!r}")
    problems = declaration_problems(package_dir, lessons_dir, every_lesson=False)
    if problems:
        raise ValueError("the exercises' declarations, checks and lessons must agree:\n" + "\n".join(problems))
    exercises = discover_exercises(package_dir)
    lessons = {path.name: nbformat.read(path, as_version=4)
               for path in sorted(lessons_dir.glob("*.ipynb")) if LESSON_NAME.match(path.name)}
    placed = {name: lesson_exercises(nb.cells, exercises, name) for name, nb in lessons.items()}

    _prepare_out_dir(out_dir)
    try:
        for name in PROJECT_FILES:
            source = package_dir.parent / name
            if source.is_dir():
                shutil.copytree(source, out_dir / name, ignore=_IGNORED)
            elif source.is_file():
                shutil.copy2(source, out_dir / name)
        released_package = out_dir / package_dir.name
        shutil.copytree(package_dir, released_package, ignore=_IGNORED)

        new_bodies: dict[Path, dict[str, list[str]]] = {}
        for exercise in exercises.values():
            path, function = _locate_function(released_package, exercise.function)
            new_bodies.setdefault(path, {})[function] = list(STUB_LINES)
            checks_path, _ = _locate_function(released_package, f"{exercise.checks_module}.{exercise.name}_cases")
            new_bodies.setdefault(checks_path, {})[f"{exercise.name}_cases"] = [
                "# Student release: the reference answers were recorded when this copy was built.",
                f"from {package_dir.name}.checks.core import recorded_cases",
                "",
                f"return recorded_cases({json.dumps(exercise.name)})",
            ]
            new_bodies[checks_path][f"{exercise.name}_hidden_cases"] = [
                "# Student release: the hidden cases are graded, not handed out.", "return []"]
        for path, bodies in new_bodies.items():
            stubbed = replace_function_bodies(path.read_text(encoding="utf-8"), bodies, str(path))
            path.write_text(stubbed, encoding="utf-8")

        recorded = _record(package_dir, exercises, released_package / "checks" / "recorded")

        (out_dir / "lessons").mkdir()
        for name, notebook in lessons.items():
            title = notebook.cells[0]
            if title.cell_type == "markdown":  # said once, under the lesson's title
                title.source = title.source.replace("\n", f"\n\n{WORKBOOK_NOTE}\n", 1)
            for cell in notebook.cells:
                if cell.cell_type == "code":
                    cell.source = strip_solutions(cell.source)
                    cell.outputs, cell.execution_count = [], None
            nbformat.write(notebook, out_dir / "lessons" / name)
    except BaseException:
        shutil.rmtree(out_dir, ignore_errors=True)  # no half-built release that a rebuild would refuse
        raise

    manifest = {
        "package": package_dir.name,
        "exercises": {name: {"checks_module": e.checks_module, **recorded[name]} for name, e in exercises.items()},
        "lessons": {name: [{"exercise": e.exercise, "solution_cell": e.solution_cell, "check_cell": e.check_cell,
                            "check_call": e.check_call} for e in found] for name, found in placed.items()},
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


NBGRADER_CONFIG = """\
# nbgrader course written by `python -m course_tools release --nbgrader`: one assignment per lesson in source/.
c = get_config()
c.CourseDirectory.course_id = "unet-course"
c.Execute.timeout = 900  # seconds per cell: lessons 03-08 train models, each lesson in about two minutes on 2 cores
"""
"""The ``nbgrader_config.py`` of a course folder the release writes."""

MEDIA_LINK = re.compile(r"\]\(\.\./media/([^)\s]+)\)")
"""A markdown image link to the repository's ``media/`` folder, ``](../media/NAME)``; group 1 is ``NAME``."""


def record_grading(package_dir: Path, lessons: dict[str, list]) -> str:
    """The course grader's record, as one line of :mod:`~course_tools.plain_data`.

    ``{"package", "assignments": {lesson stem: [{"exercise", "points"}]}, "exercises": {name: {"function",
    "kind", "cases"}}}``: for each lesson the exercises whose self-check it holds, with the points their
    declaration gives, and for each exercise every visible and hidden case with the reference's outcome
    (:func:`course_tools.record.graded`, run in a fresh process on the instructor's package).

    Args:
        package_dir: the instructor's package.
        lessons: lesson file name -> its cells.
    """
    exercises = discover_exercises(package_dir)
    assignments = {Path(name).stem: [{"exercise": found.exercise, "points": exercises[found.exercise].points}
                                     for found in lesson_exercises(cells, exercises, name)]
                   for name, cells in lessons.items()}
    used = sorted({entry["exercise"] for entries in assignments.values() for entry in entries})
    spec = {"package": package_dir.name, "exercises": {
        name: [exercises[name].checks_module, exercises[name].function, exercises[name].kind] for name in used}}
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(package_dir.parent), str(default_package_dir().parent)]))
    completed = subprocess.run([sys.executable, "-m", "course_tools.record", "--graded", json.dumps(spec)],
                               env=environment, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"recording the graded cases failed:\n{completed.stderr[-3000:]}")
    # The exercises stay as plain_data encoded them (JSON-ready); load_grading decodes them.
    return json.dumps({"package": package_dir.name, "assignments": assignments,
                       "exercises": json.loads(completed.stdout.splitlines()[-1])}, separators=(",", ":"))


def given_answers(lessons: dict[str, list], lesson: str, package_dir: Path) -> str | None:
    """The ``my_unet.py`` an nbgrader assignment of ``lesson`` is given, or ``None`` if the lesson imports none.

    A lesson after the one that saves a learner's answers (``save_answers(upsampling_block, ...)``) imports them
    from ``my_unet``. Graded one by one, its assignment cannot count on a student's earlier folder: it is given the
    module the solved lessons save, each function's source taken from the answer cell of the lesson that grades it.

    Args:
        lessons: lesson file name -> its cells (solved).
        lesson: the lesson file name.
        package_dir: the instructor's package.
    """
    from unet_lib.answers import answers_module_source

    def code(cells):
        return [cell.source for cell in cells if cell.cell_type == "code"]

    def parsed(source):
        try:
            return ast.parse("\n".join("" if line.lstrip().startswith(("%", "!")) else line
                                       for line in source.splitlines()))
        except SyntaxError:
            return ast.Module(body=[], type_ignores=[])

    if not any(isinstance(node, ast.ImportFrom) and node.module == ANSWERS_MODULE
               for source in code(lessons[lesson]) for node in ast.walk(parsed(source))):
        return None
    saved = [argument.id for name in sorted(lessons) if name < lesson for source in code(lessons[name])
             for node in ast.walk(parsed(source)) if isinstance(node, ast.Call)
             and getattr(node.func, "id", None) == "save_answers" for argument in node.args
             if isinstance(argument, ast.Name)]
    exercises = discover_exercises(package_dir)
    sources = {}
    for function in dict.fromkeys(saved):
        exercise = next(e for e in exercises.values() if e.function.rsplit(".", 1)[1] == function)
        graded_in = next(name for name in lessons if Path(name).stem in exercise.lessons)
        found = next(found for found in lesson_exercises(lessons[graded_in], exercises, graded_in)
                     if found.exercise == exercise.name)
        answer = lessons[graded_in][found.solution_cell].source
        sources[function] = next(ast.get_source_segment(answer, node) for node in parsed(answer).body
                                 if isinstance(node, ast.FunctionDef) and node.name == function)
    return answers_module_source(sources)


def python_literal(value) -> str:
    """Python source that evaluates to ``value`` (plain data: None, bools, numbers, strings, tuples, lists, dicts
    with such keys, NumPy arrays and scalars), given ``import numpy as np``.

    Raises:
        ValueError: for anything else, or a number that is not finite.
    """
    import numpy as np

    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf" or (value.dtype.kind == "f" and not np.isfinite(value).all()):
            raise ValueError(f"value must be a finite numeric array, got dtype {value.dtype}")
        return f"np.array({value.tolist()!r}, dtype={str(value.dtype)!r}).reshape({value.shape!r})"
    if isinstance(value, np.generic):
        return f"np.{type(value).__name__}({python_literal(value.item())})"
    if isinstance(value, float) and not np.isfinite(value):
        raise ValueError(f"value must be a finite number, got {value!r}")
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    if isinstance(value, (tuple, list)):
        items = ", ".join(python_literal(item) for item in value)
        return f"({items},)" if isinstance(value, tuple) and len(value) == 1 else \
            f"({items})" if isinstance(value, tuple) else f"[{items}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{python_literal(key)}: {python_literal(item)}" for key, item in value.items()) + "}"
    raise ValueError(f"value must be plain data, got {type(value).__name__}")


def hidden_tests(check_call: str, exercise: str, grading: dict) -> str:
    """The ``### BEGIN HIDDEN TESTS`` region an nbgrader course's self-check cell gets for ``exercise``: its
    self-check called again on the hidden cases, with the answers the reference gave (from :func:`record_grading`).

    Args:
        check_call: the lesson's self-check call, e.g. ``"check_one_hot(one_hot)"``.
        exercise: the exercise's name.
        grading: :func:`record_grading`'s record, decoded.
    """
    from course_tools.exercises import BEGIN_HIDDEN_TESTS, END_HIDDEN_TESTS

    call = ast.parse(check_call).body[0].value
    learner = ast.get_source_segment(check_call, call.args[0])
    record = grading["exercises"][exercise]
    cases = []
    for case in record["cases"]:
        if not case["hidden"]:
            continue
        expected = case["expected"]
        if "raised" in expected and record["kind"] != "call":
            raise ValueError(f"{exercise}: case {case['label']!r}: only a called function may be expected to raise")
        answer = f"Raises({expected['raised']!r})" if "raised" in expected else python_literal(expected["value"])
        cases.append(f"    Case({case['label']!r}, {python_literal(case['args'])}, {answer}, "
                     f"{python_literal(case['kwargs'])}),")
    return "\n".join([BEGIN_HIDDEN_TESTS, "# Graded, not shown: the hidden cases, with the reference's answers.",
                      "import numpy as np", f"from {grading['package']}.checks.core import Case, Raises",
                      "", f"{call.func.id}({learner}, cases=[", *cases, "])", END_HIDDEN_TESTS])


def build_nbgrader_course(out_dir: str | Path, lessons_dir: str | Path | None = None,
                          package_dir: str | Path | None = None) -> dict:
    """Write an nbgrader course folder: ``nbgrader_config.py`` and one assignment per lesson in ``source/``.

    ``source/<lesson>/`` holds the solved lesson, each self-check cell given a ``### BEGIN HIDDEN TESTS`` region
    that checks the declared hidden cases against the reference's recorded answers (:func:`hidden_tests`; nbgrader's
    ``generate_assignment`` removes the solutions and those regions), the figures it shows in ``media/`` with its
    links pointing there, and the student release's package, whose graded functions raise ``NotImplementedError``.
    The lesson imports that package (the kernel starts in the assignment's folder, first on ``sys.path``), so an
    answer cannot borrow the reference, and ``autograde`` puts the instructor's copy of every file back over what a
    student handed in. ``generate_assignment`` and ``generate_feedback`` copy the folder's files along, so the
    figures show in the students' copies and in the HTML feedback.

    A lesson that imports the answers earlier lessons save (``from my_unet import ...``) is given the ``my_unet.py``
    the solved lessons save (:func:`given_answers`): graded on its own, it cannot count on a student's earlier work.

    ``grading.json`` holds what ``python -m course_tools grade`` compares: every visible and hidden case of each
    lesson's exercises with the reference's answer (:func:`record_grading`).

    Rebuilding an earlier course (after a fix to a lesson) replaces only what this function writes,
    ``source/``, ``nbgrader_config.py``, ``grading.json`` and ``release.json``: nbgrader's ``gradebook.db``,
    ``release/``, ``submitted/``, ``autograded/``, ``feedback/`` and any other file stay as they are.
    The course is built in a scratch folder and copied in only when complete, so a lesson that fails
    to build (a figure missing, a broken exercise) leaves the earlier course as it was.

    Args:
        out_dir: where to write; must be empty, missing, an earlier course written by this function
            (updated) or an earlier student release (replaced).
        lessons_dir, package_dir: as for :func:`build_release`.

    Returns:
        The manifest written to ``out_dir/release.json``: each assignment's notebook and figures.

    Raises:
        ValueError: as :func:`build_release`, or if a lesson links a figure that ``media/`` lacks.
    """
    import nbformat  # here, not at the top: `python -m course_tools --help` need not load it

    package_dir = Path(package_dir or default_package_dir()).resolve()
    lessons_dir = Path(lessons_dir or package_dir.parent / "lessons").resolve()
    out_dir = Path(out_dir).resolve()
    media_dir = package_dir.parent / "media"
    earlier = _earlier_release(out_dir)  # before the build: a folder that is not ours is refused at once
    with tempfile.TemporaryDirectory() as scratch:
        student, source = Path(scratch) / "student", Path(scratch) / "source"
        lessons = build_release(student, lessons_dir, package_dir)["lessons"]
        notebooks = {name: nbformat.read(lessons_dir / name, as_version=4) for name in lessons}
        grading = record_grading(package_dir, {name: notebook.cells for name, notebook in notebooks.items()})
        decoded_grading = json.loads(grading)
        decoded_grading["exercises"] = plain_data.decode(decoded_grading["exercises"])
        assignments = {}
        for name, notebook in notebooks.items():
            folder = source / Path(name).stem
            shutil.copytree(student / package_dir.name, folder / package_dir.name)
            figures = []
            for cell in notebook.cells:
                if cell.cell_type == "markdown":
                    figures += MEDIA_LINK.findall(cell.source)
                    cell.source = MEDIA_LINK.sub(r"](media/\1)", cell.source)
                else:
                    cell.outputs, cell.execution_count = [], None
            for found in lessons[name]:
                check_cell = notebook.cells[found["check_cell"]]
                check_cell.source = check_cell.source.rstrip("\n") + "\n" + hidden_tests(
                    found["check_call"], found["exercise"], decoded_grading)
            for figure in figures:
                if not (media_dir / figure).is_file():
                    raise ValueError(f"{name} links ../media/{figure}, which {media_dir} does not hold")
                (folder / "media").mkdir(exist_ok=True)
                shutil.copy2(media_dir / figure, folder / "media" / figure)
            nbformat.write(notebook, folder / name)
            given = given_answers({lesson: notebooks[lesson].cells for lesson in notebooks}, name, package_dir)
            if given is not None:
                (folder / f"{ANSWERS_MODULE}.py").write_text(given, encoding="utf-8")
            assignments[Path(name).stem] = {"notebook": name, "figures": figures}
        if earlier is not None and NBGRADER_ASSIGNMENTS not in earlier:
            shutil.rmtree(out_dir)  # a student release: every file in it is ours
        out_dir.mkdir(parents=True, exist_ok=True)
        if (out_dir / "source").exists():
            shutil.rmtree(out_dir / "source")
        shutil.copytree(source, out_dir / "source")
    (out_dir / "nbgrader_config.py").write_text(NBGRADER_CONFIG, encoding="utf-8")
    (out_dir / GRADING).write_text(grading + "\n", encoding="utf-8")
    (out_dir / GRADING).chmod(0o600)  # the hidden cases' answers: the instructor's eyes only
    manifest = {"package": package_dir.name, NBGRADER_ASSIGNMENTS: assignments}
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def solution_lines(lessons_dir: str | Path, package_dir: str | Path) -> list[str]:
    """Every line that gives an answer away: in the lessons' solution regions and the graded bodies.

    Returns:
        The distinct lines, stripped of surrounding spaces, blank lines left out.
    """
    import nbformat  # here, not at the top: `python -m course_tools --help` need not load it

    lines = []
    for path, ranges in graded_bodies(package_dir).items():
        source_lines = path.read_text(encoding="utf-8").splitlines()
        lines += [line for start, end in ranges for line in source_lines[start:end]]
    for lesson in sorted(Path(lessons_dir).glob("*.ipynb")):
        for cell in nbformat.read(lesson, as_version=4).cells:
            for region in solution_regions(cell.source):
                lines += region
    return sorted({line.strip() for line in lines if line.strip()})


def add_command(subparsers) -> None:
    """The ``release`` verb: write the student copy of the course."""
    parser = subparsers.add_parser(
        "release", help="write the student copy: lessons and library without solutions, with recorded answers")
    parser.add_argument("out_dir", help="folder to write (empty, missing, or an earlier release)")
    parser.add_argument("--lessons", default=None, help="solved lessons folder (default: lessons/ of the repository)")
    parser.add_argument("--package", default=None, help="package folder (default: the installed unet_lib)")
    parser.add_argument("--nbgrader", action="store_true", help="write an nbgrader course folder instead: "
                        "nbgrader_config.py and source/<lesson>/ with the solved lesson, its figures and the "
                        "library without solutions, for generate_assignment, and grading.json, the graded cases "
                        "that `grade` compares; on an earlier course it rewrites only those and release.json, "
                        "keeping the gradebook "
                        "and nbgrader's folders")
    parser.set_defaults(handler=_run_release)


def _run_release(arguments: argparse.Namespace) -> int:
    build = build_nbgrader_course if arguments.nbgrader else build_release
    try:
        manifest = build(arguments.out_dir, arguments.lessons, arguments.package)
    except ValueError as error:
        print(f"release: {error}", file=sys.stderr)
        return 2
    # Both modes hand students the library without its graded bodies, so both warn where that crashes.
    package_dir = Path(arguments.package or default_package_dir())
    for problem in release_problems(arguments.lessons or package_dir.parent / "lessons", package_dir):
        print(f"warning: raises NotImplementedError in the release: {problem}", file=sys.stderr)
    if arguments.nbgrader:
        names = ", ".join(manifest[NBGRADER_ASSIGNMENTS])
        print(f"Wrote an nbgrader course to {arguments.out_dir}: assignments {names} in source/. There, run "
              "`nbgrader generate_assignment NAME` to hand a lesson out; grade what comes back with "
              f"`python -m course_tools grade {arguments.out_dir} SUBMISSIONS_DIR` (sandboxed; nbgrader's autograde "
              "runs student code unconfined).")
        return 0
    n_exercises = sum(len(found) for found in manifest["lessons"].values())
    print(f"Wrote the student release to {arguments.out_dir}: {len(manifest['lessons'])} lessons, "
          f"{n_exercises} exercises, {len(manifest['exercises'])} recorded checks.")
    return 0
