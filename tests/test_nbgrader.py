"""nbgrader-native lessons: each exercise's cells carry the nbgrader metadata one tool writes; nbgrader grades them.

The fast tests read the lessons' metadata (lessons 03-08 train, so their structure is checked without running
them); the slow one runs nbgrader itself on lessons 00 and 01: ``generate_assignment``, ``autograde`` and
``generate_feedback`` in a scratch course, and reads the scores from its gradebook.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from classroom_fixture import REPO_ROOT, make_course
from course_tools.exercises import (
    LESSON_NAME,
    STUB_LINES,
    declaration_problems,
    discover_exercises,
    lesson_exercises,
    solution_regions,
)
from course_tools.nbgrader_cells import (
    answer_metadata,
    check_metadata,
    metadata_problems,
    write_metadata,
)

LESSONS = [path for path in sorted((REPO_ROOT / "lessons").glob("*.ipynb")) if LESSON_NAME.match(path.name)]
MARKER_TEXT = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
"""What nbgrader looks for in every cell's text (``### `` or not): prose must not contain it."""


def _cells(path: Path) -> list:
    return nbformat.read(path, as_version=4).cells


def test_lessons_carry_the_nbgrader_metadata_the_tool_writes():
    problems = metadata_problems(REPO_ROOT / "lessons", REPO_ROOT / "unet_lib")
    assert problems == [], "run `python -m course_tools nbgrader-metadata` to write it:\n" + "\n".join(problems)


def nbgrader_cell_problems(name: str, cells: list, known) -> list[str]:
    """What nbgrader would refuse or misgrade in a lesson, one message per cell, whatever the tool wrote."""
    problems = []
    for found in lesson_exercises(cells, known, name):
        if cells[found.solution_cell].metadata.get("nbgrader") != answer_metadata(found.exercise):
            problems.append(f"{name} cell {found.solution_cell}: not the answer cell of {found.exercise}")
        points = known[found.exercise].points
        if cells[found.check_cell].metadata.get("nbgrader") != check_metadata(found.exercise, points):
            problems.append(f"{name} cell {found.check_cell}: not the grade cell of {found.exercise}")
    grade_ids = [cell.metadata["nbgrader"].get("grade_id") for cell in cells if "nbgrader" in cell.metadata]
    if len(grade_ids) != len(set(grade_ids)):
        problems.append(f"{name}: grade_ids repeat: {grade_ids}")
    for index, cell in enumerate(cells):
        where, metadata = f"{name} cell {index}", cell.metadata.get("nbgrader", {})
        if metadata.get("grade") and not (metadata.get("locked") and metadata.get("points", 0) >= 1):
            problems.append(f"{where}: a grade cell must be locked and worth points")
        if cell.cell_type == "markdown":
            if [text for text in MARKER_TEXT if text in cell.source]:
                problems.append(f"{where}: prose holds nbgrader's marker text (say 'the solution markers')")
            continue
        # nbgrader looks for the marker text anywhere in a line, so any mention counts.
        if ("BEGIN SOLUTION" in cell.source or "END SOLUTION" in cell.source) and not metadata.get("solution"):
            problems.append(f"{where}: solution markers outside an nbgrader answer cell")
        hidden = "BEGIN HIDDEN TESTS" in cell.source or "END HIDDEN TESTS" in cell.source
        if hidden and not (metadata.get("grade") and metadata.get("locked")):
            problems.append(f"{where}: hidden tests outside a locked grade cell")
    return problems


def test_every_exercise_is_an_answer_cell_and_a_locked_grade_cell_with_points():
    known = discover_exercises(REPO_ROOT / "unet_lib")
    problems, n_exercises = [], 0
    for path in LESSONS:
        cells = _cells(path)
        for cell in cells:  # balanced markers, or ValueError
            solution_regions(cell.source)
        n_exercises += len(lesson_exercises(cells, known, path.name))
        problems += nbgrader_cell_problems(path.name, cells, known)
    assert problems == [] and n_exercises == len(known)  # each graded in one lesson


def test_the_cell_checks_find_what_nbgrader_would_refuse(tmp_path):
    lessons, package = make_course(tmp_path / "src")
    write_metadata(lessons, package)
    cells, known = _cells(lessons / "00_mini.ipynb"), discover_exercises(package)
    assert nbgrader_cell_problems("mini", cells, known) == []
    cells[0].source += "\n\nYour code goes between `### BEGIN SOLUTION` and `### END SOLUTION`."
    cells[2].source += "\n### BEGIN HIDDEN TESTS\nassert True\n### END HIDDEN TESTS"
    cells[6].metadata.nbgrader["locked"] = False
    cells[8].metadata.nbgrader["grade_id"] = "double_check"
    assert nbgrader_cell_problems("mini", cells, known) == [
        "mini cell 6: not the grade cell of running_total",
        "mini cell 8: not the grade cell of shout",
        "mini: grade_ids repeat: ['double_answer', 'double_check', 'running_total_answer', 'running_total_check', "
        "'shout_answer', 'double_check']",
        "mini cell 0: prose holds nbgrader's marker text (say 'the solution markers')",
        "mini cell 2: hidden tests outside a locked grade cell",
        "mini cell 6: a grade cell must be locked and worth points",
    ]


def test_the_tool_writes_its_metadata_and_reports_differences(tmp_path):
    lessons, package = make_course(tmp_path / "src")
    lesson = lessons / "00_mini.ipynb"
    problems = metadata_problems(lessons, package)
    assert len(problems) == 6 and problems[0].startswith("00_mini.ipynb cell 3: nbgrader metadata is missing")
    ids = [cell.id for cell in _cells(lesson)]
    assert write_metadata(lessons, package) == ["00_mini.ipynb"]
    assert metadata_problems(lessons, package) == []
    assert write_metadata(lessons, package) == []  # nothing left to change
    cells = _cells(lesson)
    assert [cell.id for cell in cells] == ids
    assert cells[3].metadata.nbgrader == {"grade": False, "grade_id": "double_answer", "locked": False,
                                          "schema_version": 3, "solution": True, "task": False}
    assert cells[6].metadata.nbgrader == {"grade": True, "grade_id": "running_total_check", "locked": True,
                                          "points": 2, "schema_version": 3, "solution": False, "task": False}
    # Metadata on a cell that is no exercise's, and an unlocked check, are reported; writing mends both.
    notebook = nbformat.read(lesson, as_version=4)
    notebook.cells[2].metadata["nbgrader"] = answer_metadata("stray")
    notebook.cells[4].metadata["nbgrader"]["locked"] = False
    nbformat.write(notebook, lesson)
    problems = metadata_problems(lessons, package)
    assert [problem.split(":")[0] for problem in problems] == ["00_mini.ipynb cell 2", "00_mini.ipynb cell 4"]
    assert "is no exercise cell" in problems[0] and "'locked': False" in problems[1]
    write_metadata(lessons, package)
    assert metadata_problems(lessons, package) == []


def test_the_command_line_checks_the_course_and_names_the_cells_that_differ(tmp_path):
    command = [sys.executable, "-m", "course_tools", "nbgrader-metadata", "--check"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0 and completed.stdout == "", completed.stdout + completed.stderr
    lessons, package = make_course(tmp_path / "src")
    completed = subprocess.run(command + ["--lessons", str(lessons), "--package", str(package)],
                               capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 1 and "00_mini.ipynb cell 3: nbgrader metadata is missing" in completed.stdout


def test_each_exercise_is_declared_once_and_the_lessons_and_checks_agree_with_it(tmp_path):
    assert declaration_problems(REPO_ROOT / "unet_lib", REPO_ROOT / "lessons") == []
    lessons, package = make_course(tmp_path / "src")
    assert declaration_problems(package, lessons) == []
    checks = package / "checks" / "arith.py"
    # The declaration names a lesson that does not ask for it, and a lesson that does not exist.
    checks.write_text(checks.read_text().replace('"lessons": ["00_mini"], "points": 2', '"lessons": ["01_more"], '
                                                  '"points": 2'))
    # A lesson asks for an exercise twice, and holds hidden tests of its own.
    notebook = nbformat.read(lessons / "00_mini.ipynb", as_version=4)
    notebook.cells += [nbformat.v4.new_code_cell(notebook.cells[3].source), nbformat.v4.new_code_cell(
        "check_double(double)\n### BEGIN HIDDEN TESTS\nassert double(1) == 2\n### END HIDDEN TESTS")]
    nbformat.write(notebook, lessons / "00_mini.ipynb")
    # A checks module without the hidden cases of its exercise.
    checks.write_text(checks.read_text().replace("def shout_hidden_cases", "def shout_hidden"))
    assert declaration_problems(package, lessons) == [
        "minicourse.checks.arith declares shout but defines no shout_hidden_cases()",
        "running_total: GRADED names lesson 01_more, which " + str(lessons) + " does not hold",
        "00_mini.ipynb holds ### BEGIN HIDDEN TESTS: hidden cases belong in the checks module's "
        "<exercise>_hidden_cases()",
        "00_mini.ipynb asks for double 2 times",
        "00_mini.ipynb asks for running_total, whose GRADED names lessons ['01_more']",
    ]
    checks.write_text(checks.read_text().replace('"points": 1}', '"points": 0}', 1))
    with pytest.raises(ValueError, match=r"GRADED\['double'\] must be"):
        discover_exercises(package)


# --- nbgrader itself, on lessons 00 and 01 ---------------------------------------------------------------------

ASSIGNMENTS = {"00_setup": "00_setup.ipynb", "01_transpose_convolution": "01_transpose_convolution.ipynb"}
REFERENCE_CALLS = {
    # An answer that only calls the course library's reference function (in the course folder, the stripped one).
    "one_hot_answer": ["from unet_lib.reference.masks import one_hot as reference",
                       "return reference(mask, n_classes)"],
    "conv_transpose_output_size_answer": [
        "from unet_lib.reference.arithmetic import conv_transpose_output_size as reference",
        "return reference(i, k, stride, padding, output_padding)"],
    "conv_transpose2d_naive_answer": [
        "from unet_lib.reference.convolution import conv_transpose2d_naive as reference",
        "return reference(x, kernel, stride, padding, output_padding)"],
    "conv_matrix_answer": ["from unet_lib.reference.convolution import conv_matrix as reference",
                           "return reference(input_shape, kernel, stride, padding)"],
    "insert_zeros_answer": ["from unet_lib.reference.convolution import insert_zeros as reference",
                            "return reference(x, stride)"],
    "predicted_upsampled_pixels_answer": [
        "from unet_lib.reference.arithmetic import predicted_upsampled_pixels as reference", "return reference()"],
    "predicted_overlap_count_answer": [
        "from unet_lib.reference.arithmetic import predicted_overlap_count as reference", "return reference()"],
}
LIBRARY_CALLS = {
    # Answers that hand the work to public library functions that the student copy keeps.
    "conv_transpose_output_size_answer": [
        "from unet_lib.reference.arithmetic import transpose_axis",
        "return transpose_axis(i, k, stride, padding, output_padding)[0]"],
    "conv_transpose2d_naive_answer": [
        "import unet_lib",
        "return unet_lib.conv_transpose2d(x, kernel, stride, padding, output_padding)"],
}
VISIBLE_ONLY = {
    # An answer that looks up the visible self-check's cases: it passes them, and only hidden tests catch it.
    "one_hot_answer": ["from unet_lib.checks.masks import one_hot_cases",
                       "for case in one_hot_cases():",
                       "    if np.shape(case.args[0]) == np.shape(mask) and np.array_equal(case.args[0], mask) \\",
                       "            and case.args[1] == n_classes:",
                       "        return case.expected",
                       "return np.zeros(np.shape(mask) + (n_classes,), dtype=np.float32)"],
}


TENSORFLOW_LOG = re.compile(r"^[IWEF]\d{4} |tensorflow|cuda|absl|oneDNN|cpu_feature_guard|TF_ENABLE_ONEDNN_OPTS",
                            re.IGNORECASE)
"""Lines of TensorFlow's native logging, which kernels started by nbgrader may write: not nbgrader's story."""


def _nbgrader(root: Path, *arguments: str) -> None:
    """Run ``nbgrader ARGUMENTS`` in the course ``root``; on failure, show nbgrader's own lines, not TensorFlow's."""
    # nbgrader runs `alembic` (its database migrations) from PATH: this environment's, even if not activated.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    environment = dict(os.environ, PATH=path, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    completed = subprocess.run([sys.executable, "-m", "nbgrader", *arguments], cwd=root, env=environment,
                               capture_output=True, text=True, timeout=900, check=False)  # 7 notebooks on a busy CPU
    log = [line for line in (completed.stdout + completed.stderr).splitlines() if not TENSORFLOW_LOG.search(line)]
    assert completed.returncode == 0, f"nbgrader {' '.join(arguments)} failed:\n" + "\n".join(log[-60:])


GRADEBOOK_SCORES = """
import json, sys
from nbgrader.api import Gradebook

with Gradebook(sys.argv[1]) as gradebook:
    print(json.dumps([[assignment, s.student_id, s.score, s.max_score] for assignment in sys.argv[2:]
                      for s in gradebook.assignment_submissions(assignment)]))
"""
"""Reads the scores with nbgrader's Gradebook API, in a process of its own: in this one, tests/jupyter_server.py
hides the jupyter_server package that importing nbgrader needs."""


def _answered(released: Path, answers: dict[str, list[str]] | None, probe: str = "") -> nbformat.NotebookNode:
    """The released notebook with each answer cell's stub replaced by ``answers[grade_id]``, or by the solved
    lesson's answer cell (``answers=None``); ``probe`` goes first in the first answer cell."""
    notebook = nbformat.read(released, as_version=4)
    lesson_cells = _cells(REPO_ROOT / "lessons" / released.name)
    solved = {cell.metadata["nbgrader"]["grade_id"]: cell.source
              for cell in lesson_cells if cell.metadata.get("nbgrader", {}).get("solution")}
    answer_cells = [cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("solution")]
    for cell in answer_cells:
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        if answers is None:
            cell.source = solved[grade_id]
        elif grade_id in answers:
            stub = "\n".join(f"    {line}" for line in STUB_LINES)
            assert stub in cell.source, cell.source
            cell.source = cell.source.replace(stub, "\n".join(f"    {line}" for line in answers[grade_id]))
    answer_cells[0].source = probe + answer_cells[0].source
    return notebook


@pytest.mark.extended
@pytest.mark.skipif(importlib.util.find_spec("nbgrader") is None, reason="nbgrader (the dev extra) is not installed")
def test_nbgrader_generates_autogrades_and_gives_feedback_on_lessons_00_and_01(tmp_path):
    from course_tools.release import MEDIA_LINK, build_nbgrader_course

    root = tmp_path / "course"
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    for lesson in ASSIGNMENTS.values():
        (lessons / lesson).write_bytes((REPO_ROOT / "lessons" / lesson).read_bytes())
    manifest = build_nbgrader_course(root, lessons, REPO_ROOT / "unet_lib")  # what `release --nbgrader` writes
    assert sorted(manifest["nbgrader_assignments"]) == sorted(ASSIGNMENTS)
    figures = manifest["nbgrader_assignments"]["01_transpose_convolution"]["figures"]
    linked = [name for cell in _cells(REPO_ROOT / "lessons" / ASSIGNMENTS["01_transpose_convolution"])
              if cell.cell_type == "markdown" for name in MEDIA_LINK.findall(cell.source)]
    assert figures and figures == linked
    # nbgrader_config.py has no course root: nbgrader takes the folder it runs in.
    submissions = {"solved": None, "blank": {}, "calls_reference": REFERENCE_CALLS, "calls_library": LIBRARY_CALLS,
                   "visible_only": VISIBLE_ONLY}
    probe = "import unet_lib as probed_library\nprint('LIBRARY', probed_library.__file__)\n"
    # One nbgrader call per step for both lessons ("0*" is a glob): each call costs seconds to start.
    _nbgrader(root, "generate_assignment", "0*")
    for assignment, lesson in ASSIGNMENTS.items():
        released = root / "release" / assignment / lesson
        text = released.read_text()
        assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text and "raise NotImplementedError()" in text
        for student, answers in submissions.items():
            if student == "visible_only" and assignment != "00_setup" or student == "calls_library" and \
                    assignment != "01_transpose_convolution":
                continue
            folder = root / "submitted" / student / assignment
            shutil.copytree(root / "release" / assignment, folder)  # what a student hands back: the whole folder
            nbformat.write(_answered(released, answers, probe if student == "solved" else ""), folder / lesson)
    for figure in figures:
        assert f"](media/{figure})" in (root / "release" / "01_transpose_convolution" / ASSIGNMENTS[
            "01_transpose_convolution"]).read_text()
        assert (root / "release" / "01_transpose_convolution" / "media" / figure).is_file()
    _nbgrader(root, "autograde", "0*")
    _nbgrader(root, "generate_feedback", "0*")

    completed = subprocess.run([sys.executable, "-c", GRADEBOOK_SCORES, f"sqlite:///{root / 'gradebook.db'}",
                                *ASSIGNMENTS], cwd=root, capture_output=True, text=True, timeout=120, check=True)
    scores = {(assignment, student): (score, max_score)
              for assignment, student, score, max_score in json.loads(completed.stdout.splitlines()[-1])}
    assert scores == {
        ("00_setup", "solved"): (2, 2), ("00_setup", "blank"): (0, 2),
        ("00_setup", "visible_only"): (0, 2),  # its visible self-check passes; the hidden tests catch it
        ("01_transpose_convolution", "solved"): (4, 4), ("01_transpose_convolution", "blank"): (0, 4),
        # The stripped library has no reference to call, and the checks refuse answers a library function computes.
        ("00_setup", "calls_reference"): (0, 2), ("01_transpose_convolution", "calls_reference"): (0, 4),
        ("01_transpose_convolution", "calls_library"): (0, 4),
    }
    for assignment in ASSIGNMENTS:
        # The solved copies imported the course folder's library, not the instructor's installed one.
        graded = nbformat.read(root / "autograded" / "solved" / assignment / ASSIGNMENTS[assignment], as_version=4)
        printed = "".join(output.get("text", "") for cell in graded.cells for output in cell.get("outputs", []))
        library = root / "autograded" / "solved" / assignment / "unet_lib" / "__init__.py"
        assert f"LIBRARY {library}" in printed, printed[:2000]
    for (assignment, student), (score, max_score) in scores.items():
        feedback = root / "feedback" / student / assignment / ASSIGNMENTS[assignment].replace(".ipynb", ".html")
        html = feedback.read_text(encoding="utf-8")
        assert f"Score: {float(score)} / {float(max_score)}" in html, feedback
        if assignment == "01_transpose_convolution":
            for figure in figures:  # the feedback's images resolve next to it
                assert f'src="media/{figure}"' in html and (feedback.parent / "media" / figure).is_file()


def test_cells_without_an_id_are_reported_and_get_one_made_from_their_text(tmp_path):
    lessons, package = make_course(tmp_path / "src")
    write_metadata(lessons, package)
    lesson = lessons / "00_mini.ipynb"
    raw = json.loads(lesson.read_text())
    ids = [cell["id"] for cell in raw["cells"]]
    for cell in raw["cells"][1:3]:
        del cell["id"]
    lesson.write_text(json.dumps(raw, indent=1))
    assert metadata_problems(lessons, package) == [
        "00_mini.ipynb cell 1: has no cell id", "00_mini.ipynb cell 2: has no cell id"]
    assert write_metadata(lessons, package) == ["00_mini.ipynb"]
    written = [cell["id"] for cell in json.loads(lesson.read_text())["cells"]]
    assert written[0] == ids[0] and written[3:] == ids[3:]
    assert all(re.fullmatch(r"cell-[0-9a-f]{8,}", cell_id) for cell_id in written[1:3])
    assert len(set(written)) == len(written) and metadata_problems(lessons, package) == []
