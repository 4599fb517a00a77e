"""The batch grader: each kind of bad submission costs only its own exercise, correct answers get full marks."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from classroom_fixture import REPO_ROOT, course_release, lesson_cells, make_course, write_notebook

from unet_lib.classroom.grader import grade
from unet_lib.classroom.release import build_release
from unet_lib.classroom.sandbox import Limits

# Small limits keep the tests fast; every timeout below is hit on purpose by an endless loop.
LIMITS = Limits(cell_seconds=8, total_seconds=40, check_seconds=8, memory_mb=2048, output_kb=64)
EXERCISES = ("double", "running_total", "shout")

CHEAT = """import builtins
import pickle

import numpy as np

import minicourse.checks.arith as arith
import minicourse.checks.core as core

core.describe_difference = lambda *args, **kwargs: None
core.verify = arith.verify = lambda *args, **kwargs: print("all good")
check_running_total = lambda fn: None
builtins.AssertionError = ZeroDivisionError
for name in ("double", "running_total"):  # 'record' the wrong answers as the reference
    path = core.RECORDED_DIR / f"{name}.pkl"
    record = pickle.loads(path.read_bytes())
    for case in record["cases"]:
        case["expected"] = 3.0 * np.asarray(case["args"][0], dtype=float)
    path.write_bytes(pickle.dumps(record))
"""

SUBMISSIONS = {
    # student: (solution bodies that differ from the reference, top-level code before an exercise, extra cell)
    "good": ({}, {}, ""),
    "loops": ({"double": "while True:\n    pass"}, {"running_total": "while True:\n    pass\n"}, ""),
    "exits": ({"double": "import sys\nsys.exit(3)", "running_total": "import os\nos._exit(1)"}, {}, ""),
    "crashes": ({"double": "return 1 / 0",
                 "running_total": "big = np.ones(400_000_000)  # 3.2 GB, over the 2 GB cap\nreturn big"}, {}, ""),
    "floods": ({"double": "print('x' * 5_000_000)\nreturn 2.0 * np.asarray(x, dtype=float)",
                "shout": "while True:\n    print('y' * 100_000)"}, {}, ""),
    "cheats": ({"double": "return 3.0 * np.asarray(x, dtype=float)",
                "running_total": "return 3.0 * np.asarray(x, dtype=float)",
                "shout": "return word"}, {"running_total": CHEAT}, CHEAT),
}
EXPECTED_POINTS = {
    "good": (1, 1, 1),
    "blank": (0, 0, 0),
    "loops": (0, 0, 1),
    "exits": (0, 0, 1),
    "crashes": (0, 0, 1),
    "floods": (1, 1, 0),  # 5 MB of printing costs nothing, printing forever costs that exercise
    "cheats": (0, 0, 0),
    "notjson": (0, 0, 0),
    "version3": (0, 0, 0),
}


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade one batch holding every kind of submission: (rows by student and exercise, output folder, digests)."""
    root = tmp_path_factory.mktemp("grading")
    lessons, package = make_course(root / "src")
    release = root / "release"
    build_release(release, lessons, package)
    submissions = root / "submissions"
    for student, (bodies, top_level, extra) in SUBMISSIONS.items():
        cells = lesson_cells(bodies, top_level, extra)
        if student == "good":  # an extra cell at the top: solutions are found by cell id, not position
            cells.insert(0, nbformat.v4.new_markdown_cell("My notes"))
        write_notebook(submissions / student / "00_mini.ipynb", cells)
    shutil.copy(release / "lessons" / "00_mini.ipynb", submissions / "blank.ipynb")  # one file, matched by title
    (submissions / "notjson.ipynb").write_text("{this is not JSON")
    (submissions / "version3").mkdir()
    (submissions / "version3" / "00_mini.ipynb").write_text(
        json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": []}))
    before = _digest(submissions)
    out = root / "out"
    rows = grade(submissions, out / "grades.csv", release_dir=release, limits=LIMITS, workers=2)
    return {(row.student, row.exercise): row for row in rows}, out, before, _digest(submissions)


def test_each_submission_gets_its_own_marks(graded):
    rows, _, _, _ = graded
    points = {student: tuple(rows[student, exercise].points for exercise in EXERCISES) for student in EXPECTED_POINTS}
    assert points == EXPECTED_POINTS
    assert all(row.max_points == 1 and row.lesson == "00_mini.ipynb" for row in rows.values())


@pytest.mark.parametrize(("student", "exercise", "reason"), [
    ("good", "double", "double: all 2 cases match the reference."),
    ("blank", "double", "double: not written yet (the cell still raises NotImplementedError)."),
    ("blank", "shout", "shout: the check raised NotImplementedError"),  # the fixture's check is not friendly
    ("loops", "double", "double: stopped after 8 s (an endless loop?)"),
    ("loops", "running_total", "running_total: stopped after 8 s (an endless loop?)"),
    ("exits", "double", "double: the check raised SystemExit: 3"),
    ("exits", "running_total", "running_total: the check process ended without a result"),
    ("crashes", "double", "double: case '3 values' raised ZeroDivisionError: division by zero"),
    ("crashes", "running_total", "running_total: case 'four values' raised MemoryError"),
    ("floods", "double", "double: all 2 cases match the reference."),
    ("floods", "shout", "shout: stopped after 8 s"),
    ("cheats", "double", "double: case '3 values' differs from the reference:"),
    ("cheats", "running_total", "running_total: case 'four values' was not checked"),  # it replaced verify
    ("cheats", "shout", "shout: case 'hi': expected 'HI!', got 'hi'"),
    ("notjson", "double", "the notebook is not valid JSON"),
    ("version3", "shout", "the notebook is not in nbformat 4 (found 3)"),
])
def test_feedback_says_why(graded, student, exercise, reason):
    assert graded[0][student, exercise].feedback.startswith(reason), graded[0][student, exercise].feedback


def test_csv_has_a_row_per_student_and_exercise(graded):
    rows, out, _, _ = graded
    with (out / "grades.csv").open(newline="") as file:
        table = list(csv.DictReader(file))
    assert list(table[0]) == ["student", "lesson", "exercise", "points", "max_points", "feedback"]
    assert len(table) == len(EXPECTED_POINTS) * len(EXERCISES)
    for line in table:
        row = rows[line["student"], line["exercise"]]
        assert (int(line["points"]), int(line["max_points"])) == (row.points, row.max_points)
        assert line["feedback"] == row.feedback.splitlines()[0]


def test_feedback_files_report_the_run_and_each_exercise(graded):
    _, out, _, _ = graded
    assert sorted(p.stem for p in (out / "feedback").iterdir()) == sorted(EXPECTED_POINTS)
    good = (out / "feedback" / "good.txt").read_text()
    assert "notebook run: ran to the end" in good and good.count("[pass]") == 3 and "3 / 3 points" in good
    blank = (out / "feedback" / "blank.txt").read_text()
    # Unsolved, the lesson fails in its self-checks and nowhere else.
    assert re.findall(r"cell (\d+) raised (\w+)", blank) == [("4", "CheckFailed"), ("6", "CheckFailed"),
                                                               ("8", "NotImplementedError")]
    assert "ran past the time limit" in (out / "feedback" / "loops.txt").read_text()
    assert "the kernel died in cell 6" in (out / "feedback" / "exits.txt").read_text()
    assert "output beyond 64 KB was dropped" in (out / "feedback" / "floods.txt").read_text()
    assert "0 / 3 points" in (out / "feedback" / "notjson.txt").read_text()
    for path in (out / "feedback").iterdir():
        for seconds in re.findall(r"in ([\d.]+) s", path.read_text()):
            # Not a speed target: the total limit held (40 s, plus kernel start and shutdown).
            assert float(seconds) < LIMITS.total_seconds + 15, (path.name, seconds)


def test_submissions_are_never_modified(graded):
    _, _, before, after = graded
    assert before == after


def test_grade_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="submissions_dir must be a folder"):
        grade(tmp_path / "missing", tmp_path / "grades.csv")
    with pytest.raises(ValueError, match="release_dir must be a student release"):
        grade(tmp_path, tmp_path / "grades.csv", release_dir=tmp_path)


@pytest.mark.slow
def test_course_lesson_00_solved_gets_full_marks_and_blank_fails_only_its_self_check(tmp_path):
    release = course_release()
    submissions = tmp_path / "submissions"
    (submissions / "solved").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "lessons" / "00_setup.ipynb", submissions / "solved")
    shutil.copy(release / "lessons" / "00_setup.ipynb", submissions / "blank.ipynb")
    command = [sys.executable, "-m", "unet_lib", "grade", str(submissions), "--out", str(tmp_path / "grades.csv"),
               "--release", str(release), "--lesson", "00_setup.ipynb", "--cell-timeout", "120",
               "--check-timeout", "120"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=500, check=False)
    assert completed.returncode == 0, completed.stderr
    with (tmp_path / "grades.csv").open(newline="") as file:
        table = {(row["student"], row["exercise"]): row for row in csv.DictReader(file)}
    assert table["solved", "one_hot"]["points"] == "1", table["solved", "one_hot"]["feedback"]
    assert table["blank", "one_hot"]["points"] == "0"
    assert table["blank", "one_hot"]["feedback"].startswith("one_hot: not written yet")
    blank = (tmp_path / "feedback" / "blank.txt").read_text()
    assert "notebook run: ran to the end" in blank
    assert re.findall(r"cell (\d+) raised (\w+)", blank) == [("13", "CheckFailed")]


def test_sandbox_caps_memory_and_cuts_the_network():
    from unet_lib.classroom.sandbox import network_prefix, sandboxed

    program = """
import socket
try:
    bytearray(3 * 2**30)
    print("allocated")
except MemoryError:
    print("MemoryError")
print([name for _, name in socket.if_nameindex()])
"""
    network = network_prefix()
    command = sandboxed([sys.executable, "-c", program], Limits(memory_mb=1024), 30, network)
    completed = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    lines = completed.stdout.splitlines()
    assert lines[0] == "MemoryError", completed.stderr
    if network:  # a network namespace of its own: only the (down) loopback interface exists there
        assert lines[1] == "['lo']"
