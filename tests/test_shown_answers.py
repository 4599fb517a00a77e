"""No cell of the student copy answers an exercise of its own lesson or a later one.

Every function a lesson's cells define (solutions removed, as in the student copy) is tried on the hidden
cases of each exercise graded in that lesson or after it, through the exercise's own self-check: a function
that passes them shows the answer before the learner writes it. Arguments are matched by name where the
function's names differ from the exercise's only in what they leave out, so a lesson's helper that takes fewer
options (``conv_bn_relu(inputs, n_filters)`` for ``conv_block``) is still tried.
"""

from __future__ import annotations

import importlib
import inspect
import re
import signal
from pathlib import Path

import nbformat
import pytest
from course_tools.exercises import discover_exercises, lesson_exercises, strip_solutions
from course_tools.record import graded
from course_tools.sandbox_harness import define_functions

from unet_lib.checks.core import Case, CheckFailed, Raises

REPO = Path(__file__).resolve().parents[1]
SECONDS_PER_TRY = 20


def hidden_cases(record: dict) -> list[Case]:
    """An exercise's hidden cases with the reference's answers, as the nbgrader release writes them."""
    return [Case(case["label"], tuple(case["args"]),
                 Raises(case["expected"]["raised"]) if "raised" in case["expected"] else case["expected"]["value"],
                 dict(case["kwargs"]))
            for case in record["cases"] if case["hidden"]]


def shown_functions(lesson_path: Path) -> list[tuple[int, str, object]]:
    """``(cell index, name, function)`` for each function the lesson's student copy defines in a cell.

    Cells run as the grading harness runs a submission's other cells: imports, definitions and literal
    assignments only, so nothing trains.
    """
    namespace: dict = {}
    shown = []
    for index, cell in enumerate(nbformat.read(lesson_path, as_version=4).cells):
        if cell.cell_type != "code":
            continue
        source = strip_solutions(cell.source)
        define_functions([source], set(), namespace)
        for name in re.findall(r"^def (\w+)\(", source, re.MULTILINE):
            if inspect.isfunction(namespace.get(name)):
                shown.append((index, name, namespace[name]))
    return shown


def matched_by_name(function):
    """``function``, called with only the keyword arguments it takes (every one, if it takes ``**kwargs``)."""
    parameters = inspect.signature(function).parameters
    open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())

    def call(*args, **kwargs):
        return function(*args, **{k: v for k, v in kwargs.items() if open_ended or k in parameters})

    return call


def _timeout(signum, frame):
    raise TimeoutError("a shown function took too long on a hidden case")


def answers_shown(lessons_dir: Path, package_dir: Path) -> list[str]:
    """``"<lesson> cell <i>: <function> answers <exercise>"`` for every shown function that passes an exercise's
    hidden cases, among the exercises of its lesson and the later ones."""
    exercises = discover_exercises(package_dir)
    lessons = sorted(lessons_dir.glob("[0-9][0-9]_*.ipynb"))
    graded_in = {}
    for position, lesson in enumerate(lessons):
        for found in lesson_exercises(nbformat.read(lesson, as_version=4).cells, exercises, lesson.name):
            graded_in[found.exercise] = position
    records = graded({"package": package_dir.name, "exercises": {
        name: [exercises[name].checks_module, exercises[name].function, exercises[name].kind] for name in graded_in}})
    problems = []
    previous = signal.signal(signal.SIGALRM, _timeout)
    try:
        for position, lesson in enumerate(lessons):
            for index, name, function in shown_functions(lesson):
                for exercise, lesson_position in graded_in.items():
                    if lesson_position < position:
                        continue
                    check = getattr(importlib.import_module(exercises[exercise].checks_module), f"check_{exercise}")
                    signal.alarm(SECONDS_PER_TRY)
                    try:
                        check(matched_by_name(function), cases=hidden_cases(records[exercise]))
                    except (CheckFailed, TimeoutError, TypeError, ValueError):
                        continue
                    finally:
                        signal.alarm(0)
                    problems.append(f"{lesson.stem} cell {index}: {name} answers {exercise}")
    finally:
        signal.signal(signal.SIGALRM, previous)
    return problems


def test_no_lesson_shows_the_answer_of_its_own_or_a_later_exercise(capsys):
    problems = answers_shown(REPO / "lessons", REPO / "unet_lib")
    capsys.readouterr()  # the checks' verdicts on the functions tried
    assert problems == []


def test_a_shown_answer_is_found(tmp_path):
    # Lesson 00's own answer, renamed and pasted into a cell of the lesson before the exercise: it must be found.
    lesson = nbformat.read(REPO / "lessons" / "00_setup.ipynb", as_version=4)
    answer = next(cell.source for cell in lesson.cells if cell.cell_type == "code" and "def one_hot(" in cell.source)
    shown = "\n".join(line for line in answer.replace("def one_hot(", "def handy_encoding(").splitlines()
                      if "### " not in line)  # the markers would make it an exercise of its own
    lesson.cells.insert(1, nbformat.v4.new_code_cell(shown))
    nbformat.write(lesson, tmp_path / "00_setup.ipynb")
    assert answers_shown(tmp_path, REPO / "unet_lib") == ["00_setup cell 1: handy_encoding answers one_hot"]


@pytest.mark.parametrize("keyword", ["dropout_prob", "max_pooling"])
def test_a_shown_function_taking_fewer_options_is_tried_with_those_it_takes(keyword):
    def helper(inputs, n_filters):
        return inputs, n_filters

    assert matched_by_name(helper)("x", **{"n_filters": 3, keyword: 0.5}) == ("x", 3)
