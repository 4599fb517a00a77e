"""nbgrader cell metadata for the lessons, written by this tool rather than by hand.

nbgrader (https://nbgrader.readthedocs.io, metadata schema version 3) knows a cell's role from its
``metadata.nbgrader``. For every exercise that :func:`course_tools.exercises.lesson_exercises`
finds, the answer cell (the one with the solution markers) becomes an autograded answer and the
self-check cell after it a locked autograder-tests cell worth the points its declaration gives
(:class:`course_tools.exercises.GradedExercise`):

- answer: ``{"solution": true, "grade": false, "locked": false, "task": false,
  "grade_id": "<exercise>_answer", "schema_version": 3}``
- self-check: ``{"solution": false, "grade": true, "locked": true, "task": false, "points": N,
  "grade_id": "<exercise>_check", "schema_version": 3}``

No other cell carries nbgrader metadata. ``python -m course_tools nbgrader-metadata`` writes it into
the lessons; ``--check`` only reports the cells that differ (a test runs it), so an exercise cannot
be added without its metadata.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Mapping
from pathlib import Path

from course_tools.exercises import LESSON_NAME, GradedExercise, discover_exercises, lesson_exercises

SCHEMA_VERSION = 3
"""nbgrader's cell-metadata schema (nbgrader 0.6 to 0.9)."""

def answer_metadata(exercise: str) -> dict:
    """The ``metadata.nbgrader`` of an exercise's answer cell."""
    return {"grade": False, "grade_id": f"{exercise}_answer", "locked": False, "schema_version": SCHEMA_VERSION,
            "solution": True, "task": False}


def check_metadata(exercise: str, points: int) -> dict:
    """The ``metadata.nbgrader`` of an exercise's self-check cell, worth ``points``."""
    return {"grade": True, "grade_id": f"{exercise}_check", "locked": True, "points": points,
            "schema_version": SCHEMA_VERSION, "solution": False, "task": False}


def expected_metadata(cells: list, known: Mapping[str, GradedExercise], where: str = "lesson") -> dict[int, dict]:
    """Cell index -> the ``metadata.nbgrader`` that cell must carry; cells not named must carry none.

    Raises:
        ValueError: if one cell would play two roles
            (a self-check checking two exercises, a solution cell holding two).
    """
    wanted: dict[int, dict] = {}
    for found in lesson_exercises(cells, known, where):
        for index, metadata in ((found.solution_cell, answer_metadata(found.exercise)),
                                (found.check_cell, check_metadata(found.exercise, known[found.exercise].points))):
            if index in wanted:
                raise ValueError(f"{where} cell {index}: one cell per exercise's answer and self-check, but it "
                                 f"would be both {wanted[index]['grade_id']} and {metadata['grade_id']}")
            wanted[index] = metadata
    return wanted


def _lessons(lessons_dir: Path) -> list[Path]:
    return [path for path in sorted(lessons_dir.glob("*.ipynb")) if LESSON_NAME.match(path.name)]


def _cells_without_id(path: Path) -> list[int]:
    """Indices of the cells with no ``id`` in the file itself (nbformat may invent one when it reads)."""
    return [index for index, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"])
            if not cell.get("id")]


def _new_cell_id(source: str, taken: set[str]) -> str:
    """A cell id made from the cell's text, so that writing twice gives the same id; unique among ``taken``."""
    digest = hashlib.sha1(source.encode("utf-8")).hexdigest()
    for length in range(8, len(digest) + 1):
        candidate = f"cell-{digest[:length]}"
        if candidate not in taken:
            return candidate
    raise ValueError(f"no free cell id for a cell: {sorted(taken)[:5]}...")


def _read(path: Path):
    """The notebook at ``path``; nbformat's warning about cells without an id is left out: we name them."""
    import warnings

    import nbformat  # here, not at the top: `python -m course_tools --help` need not load it

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=nbformat.validator.MissingIDFieldWarning)
        return nbformat.read(path, as_version=4)


def metadata_problems(lessons_dir: str | Path, package_dir: str | Path) -> list[str]:
    """One message per lesson cell whose nbgrader metadata differs from what :func:`write_metadata` writes.

    A cell without an id counts too: nbgrader and JupyterLab match cells by id (nbformat 4.5).

    Returns:
        E.g. ``"00_setup.ipynb cell 13: nbgrader metadata is missing, want {...}"``; empty when all agree.
    """
    known = discover_exercises(package_dir)
    problems = []
    for path in _lessons(Path(lessons_dir)):
        cells = _read(path).cells
        wanted = expected_metadata(cells, known, path.name)
        problems += [f"{path.name} cell {index}: has no cell id" for index in _cells_without_id(path)]
        for index, cell in enumerate(cells):
            have, want = cell.metadata.get("nbgrader"), wanted.get(index)
            if have == want:
                continue
            if want is None:
                problems.append(f"{path.name} cell {index}: carries nbgrader metadata {have}, but is no exercise cell")
            elif have is None:
                problems.append(f"{path.name} cell {index}: nbgrader metadata is missing, want {want}")
            else:
                problems.append(f"{path.name} cell {index}: nbgrader metadata is {have}, want {want}")
    return problems


def write_metadata(lessons_dir: str | Path, package_dir: str | Path) -> list[str]:
    """Write every lesson's nbgrader metadata (and remove it from cells that are no exercise's).

    Outputs, execution counts and cell ids are left as they are, except that a cell without an id gets
    one made from its text; a lesson is rewritten only if something changes.

    Returns:
        The names of the lessons rewritten.
    """
    import nbformat  # here, not at the top: `python -m course_tools --help` need not load it

    known = discover_exercises(package_dir)
    changed = []
    for path in _lessons(Path(lessons_dir)):
        notebook = _read(path)
        wanted = expected_metadata(notebook.cells, known, path.name)
        before = nbformat.writes(notebook)
        missing_ids = _cells_without_id(path)
        taken = {cell.get("id") for index, cell in enumerate(notebook.cells) if index not in missing_ids}
        for index, cell in enumerate(notebook.cells):
            if index in wanted:
                cell.metadata["nbgrader"] = wanted[index]
            else:
                cell.metadata.pop("nbgrader", None)
            if index in missing_ids:
                cell.id = _new_cell_id(cell.source, taken)
                taken.add(cell.id)
        after = nbformat.writes(notebook)
        if after != before:
            path.write_text(after + "\n", encoding="utf-8")
            changed.append(path.name)
    return changed


def add_command(subparsers) -> None:
    """The ``nbgrader-metadata`` verb: write (or ``--check``) the lessons' nbgrader cell metadata."""
    parser = subparsers.add_parser(
        "nbgrader-metadata",
        help="write the nbgrader metadata of every exercise's answer and self-check cell into the lessons")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; list the cells whose metadata differs and exit 1 if any")
    parser.add_argument("--lessons", default=None, help="lessons folder (default: lessons/ of the repository)")
    parser.add_argument("--package", default=None, help="package folder (default: the installed unet_lib)")
    parser.set_defaults(handler=_run_nbgrader_metadata)


def _run_nbgrader_metadata(arguments: argparse.Namespace) -> int:
    from course_tools.exercises import default_package_dir

    package_dir = Path(arguments.package or default_package_dir())
    lessons_dir = Path(arguments.lessons or package_dir.parent / "lessons")
    try:
        if arguments.check:
            problems = metadata_problems(lessons_dir, package_dir)
            for problem in problems:
                print(problem)
            if problems:
                print(f"nbgrader-metadata: {len(problems)} cells differ; run "
                      "`python -m course_tools nbgrader-metadata`",
                      file=sys.stderr)
            return 1 if problems else 0
        changed = write_metadata(lessons_dir, package_dir)
    except ValueError as error:
        print(f"nbgrader-metadata: {error}", file=sys.stderr)
        return 2
    print(f"nbgrader metadata written: {', '.join(changed) if changed else 'every lesson was up to date'}")
    return 0
