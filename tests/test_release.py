"""The student release: no solution line in it, stubs where the answers were, checks that still work."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from classroom_fixture import REPO_ROOT, course_release, lesson_cells, make_course, write_notebook
from course_tools.exercises import (
    discover_exercises,
    lesson_exercises,
    solution_regions,
    strip_solutions,
)
from course_tools.release import (
    GRADING,
    MANIFEST,
    NBGRADER_CONFIG,
    build_nbgrader_course,
    build_release,
    graded_bodies,
    release_problems,
    solution_lines,
)


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    """The mini course and its release: (lessons folder, package folder, release folder, manifest)."""
    root = tmp_path_factory.mktemp("mini")
    lessons, package = make_course(root / "src")
    manifest = build_release(root / "release", lessons, package)
    return lessons, package, root / "release", manifest


def _public_lines(lessons_dir: Path, package_dir: Path) -> set[str]:
    """Lines a student sees anyway: lesson lines outside solution regions, library lines outside graded bodies."""
    public = set()
    hidden = graded_bodies(package_dir)
    for path in package_dir.rglob("*.py"):
        lines = path.read_text().splitlines()
        ranges = hidden.get(path, [])
        public |= {line.strip() for number, line in enumerate(lines) if not any(a <= number < b for a, b in ranges)}
    for lesson in lessons_dir.glob("*.ipynb"):
        for cell in nbformat.read(lesson, as_version=4).cells:
            regions = solution_regions(cell.source)
            inside = {line for region in regions for line in region}
            public |= {line.strip() for line in cell.source.splitlines() if line not in inside}
    return public


def _release_lines(release_dir: Path) -> set[str]:
    """Every line in the release, stripped; notebooks by their cells' source and output lines (not their JSON)."""
    texts = []
    for path in sorted(p for p in release_dir.rglob("*") if p.is_file()):
        if path.suffix == ".ipynb":
            for cell in nbformat.read(path, as_version=4).cells:
                texts.append(cell.source)
                texts += [output.get("text", "") for output in cell.get("outputs", [])]
        else:
            texts.append(path.read_bytes().decode("utf-8", errors="ignore"))
    return {line.strip() for text in texts for line in text.splitlines()}


def leaked_solution_lines(release_dir: Path, lessons_dir: Path, package_dir: Path) -> tuple[list[str], int]:
    """The solution lines found in the release, and how many solution lines were looked for.

    Every non-blank line of a solution region and of a graded function's body is looked for as a whole line of
    the release (stripped of indentation), except lines that also appear outside every solution (in a worked
    cell, or in library code that stays, e.g. ``mask = np.asarray(mask)`` or ``return x``): those are shown to
    students anyway, so finding them proves nothing, and looking for them would fail every release. Whole lines,
    because a short solution line such as ``x,`` also occurs inside unrelated longer lines.
    """
    secret = set(solution_lines(lessons_dir, package_dir)) - _public_lines(lessons_dir, package_dir)
    return sorted(secret & _release_lines(release_dir)), len(secret)


def test_strip_solutions_keeps_indentation_and_rejects_unbalanced_markers():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n    ### END SOLUTION\nprint(1)"
    assert strip_solutions(source) == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\nprint(1)"
    assert solution_regions(source) == [["    y = x + 1", "    return y"]]
    with pytest.raises(ValueError, match="without an ### END SOLUTION"):
        strip_solutions("### BEGIN SOLUTION\nx = 1")
    with pytest.raises(ValueError, match="without a ### BEGIN SOLUTION"):
        strip_solutions("x = 1\n### END SOLUTION")


def test_a_release_refuses_hidden_tests_in_a_lesson_and_nbgrader_gets_them_from_the_declaration(tmp_path):
    lessons, package = make_course(tmp_path / "src")
    cells = lesson_cells()
    assert cells[4].source == '"""Self-check: double."""\ncheck_double(double)'
    write_notebook(lessons / "00_mini.ipynb", [*cells[:4], nbformat.v4.new_code_cell(
        cells[4].source + "\n### BEGIN HIDDEN TESTS\nassert double(7) == 14\n### END HIDDEN TESTS"), *cells[5:]])
    with pytest.raises(ValueError, match="00_mini.ipynb holds ### BEGIN HIDDEN TESTS"):
        build_release(tmp_path / "release", lessons, package)
    assert not (tmp_path / "release").exists()
    # The nbgrader course's self-check cells call the check again on the declared hidden cases, with the answers
    # the reference gave; the student copy of the course keeps no trace of them.
    write_notebook(lessons / "00_mini.ipynb", cells)
    build_nbgrader_course(tmp_path / "course", lessons, package)
    source = nbformat.read(tmp_path / "course" / "source" / "00_mini" / "00_mini.ipynb", as_version=4).cells
    hidden = source[4].source.split("### BEGIN HIDDEN TESTS\n", 1)[1]
    assert "Case('a 2x2 array', ([[1, 2], [3, 4]],), np.array([[2.0, 4.0], [6.0, 8.0]], dtype='float64')" in hidden
    assert "[[1, 2], [3, 4]]" not in (tmp_path / "course" / "source" / "00_mini" / "minicourse" / "checks" /
                                      "arith.py").read_text()
    sys.path.insert(0, str(tmp_path / "course" / "source" / "00_mini"))
    try:
        from minicourse.checks.arith import check_double  # the student copy's, without the reference

        def double(x):
            return np.multiply(np.asarray(x, dtype=float), 2.0)

        def double_in_one_dimension(x):
            return np.multiply(np.asarray(x, dtype=float).ravel(), 2.0)

        exec(hidden.replace("### END HIDDEN TESTS", ""), {"check_double": check_double, "double": double})
        with pytest.raises(AssertionError, match="case 'a 2x2 array' differs from the reference:\nexpected shape "):
            exec(hidden.replace("### END HIDDEN TESTS", ""),
                 {"check_double": check_double, "double": double_in_one_dimension})
    finally:
        sys.path.remove(str(tmp_path / "course" / "source" / "00_mini"))
        for name in [module for module in sys.modules if module.startswith("minicourse")]:
            del sys.modules[name]


def test_exercises_are_discovered_from_graded_and_the_cells_after_solutions(mini, tmp_path):
    lessons, package, _, _ = mini
    exercises = discover_exercises(package)
    assert sorted(exercises) == ["double", "running_total", "shout"]
    assert exercises["double"].function == "minicourse.arith.double"
    assert (exercises["running_total"].lessons, exercises["running_total"].points) == (("00_mini",), 2)
    cells = nbformat.read(lessons / "00_mini.ipynb", as_version=4).cells
    assert [(e.exercise, e.solution_cell, e.check_cell, e.check_call) for e in lesson_exercises(cells, exercises)] == [
        ("double", 3, 4, "check_double(double)"),
        ("running_total", 5, 6, "check_running_total(running_total)"),
        ("shout", 7, 8, "check_shout(shout)"),
    ]
    cells[4].source = "print('no check here')"
    with pytest.raises(ValueError, match="cell 3: the code cell after a solution must call check_<exercise>"):
        lesson_exercises(cells, exercises)
    (tmp_path / "pkg" / "checks").mkdir(parents=True)
    (tmp_path / "pkg" / "checks" / "bad.py").write_text("GRADED = {'x': ['pkg.f']}\n")
    with pytest.raises(ValueError, match=r"GRADED\['x'\] must be"):
        discover_exercises(tmp_path / "pkg")
    with pytest.raises(ValueError, match="package_dir must be a package with a checks/ folder"):
        discover_exercises(tmp_path)


def test_release_stubs_graded_functions_and_keeps_the_rest(mini):
    _, package, release, manifest = mini
    released = ast.parse((release / "minicourse" / "arith.py").read_text())
    original = ast.parse((package / "arith.py").read_text())
    functions = {node.name: node for node in released.body if isinstance(node, ast.FunctionDef)}
    for name in ("double", "running_total", "shout"):
        node = functions[name]
        source_node = next(n for n in original.body if getattr(n, "name", None) == name)
        assert ast.get_docstring(node) == ast.get_docstring(source_node)
        assert ast.unparse(node.args) == ast.unparse(source_node.args)
        assert [type(statement).__name__ for statement in node.body] == ["Expr", "Raise"]
        assert ast.unparse(node.body[1]) == "raise NotImplementedError()"
    assert ast.unparse(functions["describe"]) == ast.unparse(
        next(n for n in original.body if getattr(n, "name", None) == "describe"))
    checks = (release / "minicourse" / "checks" / "arith.py").read_text()
    assert 'return recorded_cases("double")' in checks and "double(x)) for x" not in checks
    assert sorted(p.name for p in (release / "minicourse" / "checks" / "recorded").iterdir()) == [
        "double.pkl", "running_total.pkl", "shout.pkl"]
    assert {name: e["n_cases"] for name, e in manifest["exercises"].items()} == {
        "double": 2, "running_total": 1, "shout": 2}
    cells = nbformat.read(release / "lessons" / "00_mini.ipynb", as_version=4).cells
    assert cells[3].source == (
        'def double(x):\n    """Your turn."""\n    # YOUR CODE HERE\n    raise NotImplementedError()')
    assert json.loads((release / MANIFEST).read_text()) == manifest


def test_released_checks_compare_with_recorded_answers(mini):
    _, _, release, _ = mini
    program = """
import numpy as np
from minicourse.arith import double
from minicourse.checks.arith import check_double, check_shout
from minicourse.checks.core import CheckFailed
check_double(lambda x: 2.0 * np.asarray(x, dtype=float))
check_shout(lambda word: word.upper() + "!")
for wrong in (double, lambda x: 3.0 * np.asarray(x, dtype=float)):
    try:
        check_double(wrong)
    except CheckFailed as failure:
        print("FAILED:", str(failure).splitlines()[0])
"""
    completed = subprocess.run([sys.executable, "-c", program], cwd=release, capture_output=True, text=True,
                               env=dict(os.environ, PYTHONPATH=str(release)), timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines() == [
        "✓ double: all 2 cases match the reference.",
        "shout: all cases match",
        "FAILED: double: not written yet (the cell still raises NotImplementedError).",
        "FAILED: double: case '3 values' differs from the reference:",
    ]


def test_mini_release_holds_no_solution_line(mini):
    lessons, package, release, _ = mini
    leaked, looked_for = leaked_solution_lines(release, lessons, package)
    assert looked_for >= 6 and leaked == []
    # The search itself works: a solution line planted in the release is found.
    (release / "minicourse" / "planted.py").write_text("    totals = np.cumsum(np.asarray(x, dtype=float))\n")
    try:
        assert leaked_solution_lines(release, lessons, package)[0] == ["totals = np.cumsum(np.asarray(x, dtype=float))"]
    finally:
        (release / "minicourse" / "planted.py").unlink()


def test_a_release_says_it_is_the_workbook(mini):
    lessons, package, release, _ = mini
    for lesson in sorted((release / "lessons").glob("*.ipynb")):
        title = nbformat.read(lesson, as_version=4).cells[0]
        assert title.cell_type == "markdown" and "**Your workbook.**" in title.source, lesson.name


def test_course_release_holds_no_solution_line_no_tooling_and_its_checks_work():
    release = course_release()
    assert (release / "lab_config" / "labconfig" / "page_config.json").is_file()  # the learner's JupyterLab
    leaked, looked_for = leaked_solution_lines(release, REPO_ROOT / "lessons", REPO_ROOT / "unet_lib")
    assert looked_for > 0 and leaked == []
    # The instructor's tools stay home: no course_tools, and no module of the library that speaks of them.
    assert not (release / "tools").exists() and not list(release.rglob("course_tools*"))
    # Nor the solved lessons' answers that an nbgrader assignment is given: each learner saves their own.
    assert not list(release.rglob("my_unet.py"))
    tooling = re.compile(r"bwrap|bubblewrap|cgroup|autograde|generate_assignment|import course_tools")
    assert [path.name for path in (release / "unet_lib").rglob("*.py") if tooling.search(path.read_text())] == []
    manifest = json.loads((release / MANIFEST).read_text())
    assert {"exercise": "one_hot", "solution_cell": 10, "check_cell": 11, "check_call": "check_one_hot(one_hot)"} \
        in manifest["lessons"]["00_setup.ipynb"]
    program = """
import numpy as np
import unet_lib
from unet_lib import check_one_hot
check_one_hot(lambda mask, n: (np.asarray(mask)[..., None] == np.arange(n)).astype(np.float32))
try:
    unet_lib.one_hot(np.zeros((1, 1), dtype=int), 1)
except NotImplementedError:
    print("reference removed")
"""
    completed = subprocess.run([sys.executable, "-c", program], cwd=release, capture_output=True, text=True,
                               env=dict(os.environ, PYTHONPATH=str(release)), timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines() == ["✓ one_hot: all 4 cases match the reference.", "reference removed"]


def test_lessons_and_library_use_no_graded_function_outside_their_exercise(repo_root):
    # In the student release a graded library function raises NotImplementedError, so a lesson may use only
    # the learner's own version, from the exercise that defines it on, and the library takes it as an argument.
    problems = release_problems(repo_root / "lessons", repo_root / "unet_lib")
    # bench transpose times the loop version itself and reports "not written yet" when it raises.
    handled = [p for p in problems
               if p.startswith("unet_lib/bench.py:") and p.endswith("calls graded conv_transpose2d_naive")]
    assert [p for p in problems if p not in handled] == [], (
        "in the student release these crash: use the learner's function (after its exercise in the same "
        "lesson), or take it as an argument, as train_unet(build_model=...) does")


def test_release_problems_finds_uses_of_graded_functions(tmp_path):
    lessons, package = make_course(tmp_path / "src")
    assert release_problems(lessons, package) == []
    with (package / "arith.py").open("a") as file:
        file.write("\n\ndef twice_doubled(x):\n    return double(double(x))\n")
    # Imported, then used before the exercise defines the learner's own (cell 3): cell 2's use is a problem,
    # the self-check's use in cell 4 is the learner's function.
    write_notebook(lessons / "01_more.ipynb", lesson_cells(
        extra="import minicourse\nfrom minicourse.arith import double\n\ndouble([1])\nminicourse.arith.shout('a')"))
    assert release_problems(lessons, package) == [
        "minicourse/arith.py:34 calls graded double",
        "01_more.ipynb cell 2 uses the library's graded double, which the release removes, before the lesson's "
        "exercise defines it",
    ]


def test_release_refuses_other_folders_and_replaces_an_earlier_release(mini, tmp_path):
    lessons, package, _, _ = mini
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="out_dir must be empty or an earlier release"):
        build_release(occupied, lessons, package)
    with pytest.raises(ValueError, match="out_dir must not be the source itself"):
        build_release(package.parent, lessons, package)
    with pytest.raises(ValueError, match="lessons_dir must be a folder"):
        build_release(tmp_path / "out", tmp_path / "missing", package)
    out = tmp_path / "out"
    build_release(out, lessons, package)
    (out / "stale.txt").write_text("from an earlier release")
    build_release(out, lessons, package)
    assert not (out / "stale.txt").exists() and (out / MANIFEST).is_file()


def test_release_command_line(mini, tmp_path):
    lessons, package, _, _ = mini
    command = [sys.executable, "-m", "course_tools", "release", str(tmp_path / "out"), "--lessons", str(lessons),
               "--package", str(package)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr
    assert "1 lessons, 3 exercises, 3 recorded checks" in completed.stdout
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x").write_text("x")
    command[4] = str(tmp_path / "other")
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 2 and "release: out_dir must be empty" in completed.stderr


@pytest.mark.parametrize("nbgrader", [False, True], ids=["student release", "nbgrader course"])
def test_release_command_warns_of_graded_functions_used_in_both_modes(nbgrader, tmp_path, capsys):
    from course_tools.cli import main

    lessons, package = make_course(tmp_path / "src")
    with (package / "arith.py").open("a") as file:
        file.write("\n\ndef twice_doubled(x):\n    return double(double(x))\n")
    arguments = ["release", str(tmp_path / "out"), "--lessons", str(lessons), "--package", str(package)]
    assert main(arguments + ["--nbgrader"] * nbgrader) == 0
    captured = capsys.readouterr()
    assert "warning: raises NotImplementedError in the release: minicourse/arith.py:34 calls graded double" in (
        captured.err.splitlines())
    assert ("Wrote an nbgrader course" if nbgrader else "Wrote the student release") in captured.out


def _course_files(course: Path, names: list[str]) -> dict[str, bytes]:
    return {name: (course / name).read_bytes() for name in names}


def test_nbgrader_course_rebuild_replaces_only_what_it_writes(tmp_path):
    # Re-running `release COURSE --nbgrader` after a fix to a lesson, on a course in use: the gradebook and
    # nbgrader's own folders stay; source/, nbgrader_config.py and release.json are written anew.
    lessons, package = make_course(tmp_path / "src")
    course = tmp_path / "course"
    build_nbgrader_course(course, lessons, package)
    instructors = {"gradebook.db": b"SQLite format 3\x00 grades", "submitted/alice/00_mini/00_mini.ipynb": b"{}",
                   "autograded/alice/00_mini/00_mini.ipynb": b'{"graded": 1}',
                   "feedback/alice/00_mini/00_mini.html": b"<p>well done</p>",
                   "release/00_mini/00_mini.ipynb": b'{"released": 1}', "notes.txt": b"mine"}
    for name, content in instructors.items():
        (course / name).parent.mkdir(parents=True, exist_ok=True)
        (course / name).write_bytes(content)
    (course / "source" / "00_mini" / "stale.txt").write_text("from the earlier build")
    (course / "nbgrader_config.py").write_text("c = get_config()\n")
    cells = lesson_cells()
    cells[0].source = "# The mini course, fixed"
    write_notebook(lessons / "00_mini.ipynb", cells)

    manifest = build_nbgrader_course(course, lessons, package)
    assert _course_files(course, list(instructors)) == instructors
    assert not (course / "source" / "00_mini" / "stale.txt").exists()
    assert nbformat.read(course / "source" / "00_mini" / "00_mini.ipynb", as_version=4).cells[0].source == (
        "# The mini course, fixed")
    assert (course / "nbgrader_config.py").read_text() == NBGRADER_CONFIG
    assert json.loads((course / MANIFEST).read_text()) == manifest

    # A rebuild that fails leaves the course as it was.
    before = {str(path.relative_to(course)): path.read_bytes() for path in course.rglob("*") if path.is_file()}
    write_notebook(lessons / "00_mini.ipynb", cells + [nbformat.v4.new_markdown_cell("![](../media/missing.png)")])
    with pytest.raises(ValueError, match="00_mini.ipynb links ../media/missing.png"):
        build_nbgrader_course(course, lessons, package)
    assert {str(path.relative_to(course)): path.read_bytes() for path in course.rglob("*") if path.is_file()} == before
    # A student release (`release` without --nbgrader) would replace the whole folder: it refuses the course.
    with pytest.raises(ValueError, match=re.escape(f"got the nbgrader course {str(course.resolve())!r}")):
        build_release(course, lessons, package)
    assert _course_files(course, list(instructors)) == instructors


def test_nbgrader_course_replaces_a_student_release_and_refuses_other_folders(mini, tmp_path):
    lessons, package, _, _ = mini
    out = tmp_path / "out"
    build_release(out, lessons, package)
    build_nbgrader_course(out, lessons, package)  # every file of a student release is ours: replaced
    assert sorted(path.name for path in out.iterdir()) == [GRADING, "nbgrader_config.py", MANIFEST, "source"]
    for name, content in {"gradebook.db": "grades", MANIFEST: "not a manifest"}.items():
        occupied = tmp_path / name
        occupied.mkdir()
        (occupied / name).write_text(content)
        refusal = re.escape(f"out_dir must be empty or an earlier release, got {str(occupied.resolve())!r}")
        with pytest.raises(ValueError, match=refusal):
            build_nbgrader_course(occupied, lessons, package)
        assert [(path.name, path.read_text()) for path in occupied.iterdir()] == [(name, content)]


def test_recorded_cases_names_a_missing_exercise():
    # In the solved repository nothing is recorded; only a release has unet_lib/checks/recorded/.
    from unet_lib.checks.core import recorded_cases

    with pytest.raises(ValueError, match="exercise must be one recorded with this release, got 'one_hot'"):
        recorded_cases("one_hot")


def test_help_lists_the_classroom_verbs(capsys):
    from course_tools.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "release" in out and "grade" in out


def test_course_release_trains_the_learners_model_and_says_when_unet_model_is_not_written(tmp_path):
    # In the release unet_model is an exercise: `train` says so in one line, and trains a model saved from a
    # notebook (here one the reference built) with --model.
    from unet_lib.reference.model import unet_model

    release = course_release()
    saved = tmp_path / "learners_unet.keras"
    unet_model((16, 16, 3), 4, 3, depth=2, batch_norm=True, dropout_prob=0.0).save(saved)
    command = [sys.executable, "-m", "unet_lib", "train", "--image-size", "16", "16", "--epochs", "1",
               "--n-train", "16", "--quiet", "--out", str(tmp_path / "out.keras")]
    environment = dict(os.environ, PYTHONPATH=str(release))
    refused = subprocess.run(command, cwd=release, capture_output=True, text=True, env=environment, timeout=300,
                             check=False)
    assert refused.returncode == 2 and refused.stderr == "", refused.stderr[-3000:]
    assert "unet_model is an exercise of lesson 04" in json.loads(refused.stdout)["error"]
    trained = subprocess.run([*command, "--model", str(saved)], cwd=release, capture_output=True, text=True,
                             env=environment, timeout=300, check=False)
    assert trained.returncode == 0, trained.stderr[-3000:]
    report = json.loads(trained.stdout.splitlines()[-1])
    assert 0 <= report["val_mean_iou"] <= 1 and (tmp_path / "out.keras").is_file()


def _release_figure_problems(release: Path) -> tuple[list[str], int]:
    """(figure links of the release's lessons that do not name a file inside the release, how many links there are)."""
    from tests.jupyter_server import image_links

    problems, n_links = [], 0
    for lesson in sorted((release / "lessons").glob("*.ipynb")):
        for link in image_links(lesson):
            n_links += 1
            target = (lesson.parent / link).resolve()
            if not (target.is_file() and release.resolve() in target.parents):
                problems.append(f"{lesson.name}: {link}")
    return problems, n_links


def _assert_make_lab_serves(release: Path) -> None:
    """`make lab` in the release, and `make lab LESSONS=<release>/lessons` from the repository, serve the release
    folder (its media/ beside its lessons/) and open its first lesson, as in the repository."""
    from tests.jupyter_server import lab_command

    assert (release / "Makefile").read_text() == (REPO_ROOT / "Makefile").read_text()
    for arguments in (lab_command(release), lab_command(REPO_ROOT, lessons=str(release / "lessons"))):
        assert arguments["ServerApp.root_dir"] == str(release.resolve())
        first = sorted(path.name for path in (release / "lessons").glob("[0-9][0-9]_*.ipynb"))[0]
        assert arguments["LabApp.default_url"] == f"/lab/tree/lessons/{first}"


def test_release_keeps_figures_beside_its_lessons_and_its_make_lab_serves_them(tmp_path):
    import shutil

    lessons, package = make_course(tmp_path / "src")
    shutil.copy2(REPO_ROOT / "Makefile", tmp_path / "src" / "Makefile")
    (tmp_path / "src" / "media").mkdir()
    shutil.copy2(REPO_ROOT / "media" / "unet.png", tmp_path / "src" / "media" / "unet.png")
    cells = lesson_cells() + [nbformat.v4.new_markdown_cell("![The U-Net](../media/unet.png)", id="figure")]
    write_notebook(lessons / "00_mini.ipynb", cells)
    release = tmp_path / "release"
    build_release(release, lessons, package)
    assert _release_figure_problems(release) == ([], 1)
    _assert_make_lab_serves(release)
    # The check itself works: a link to a figure the release lacks is found.
    (release / "media" / "unet.png").unlink()
    assert _release_figure_problems(release) == (["00_mini.ipynb: ../media/unet.png"], 1)


NO_ANSWER_IN_THE_LIBRARY = r"""
import contextlib, importlib, inspect, io, json, pkgutil
import unet_lib
from unet_lib.checks.core import CheckFailed

manifest = json.load(open("release.json"))
public = {}
for module_info in pkgutil.walk_packages(unet_lib.__path__, "unet_lib."):
    if any(part.startswith("_") for part in module_info.name.split(".")) or ".checks" in module_info.name:
        continue
    module = importlib.import_module(module_info.name)
    for name, value in vars(module).items():
        if not name.startswith("_") and inspect.isfunction(value) and value.__module__ == module.__name__:
            public[f"{module.__name__}.{name}"] = value


def fits(function, n_required):
    try:
        inspect.signature(function).bind(*[None] * n_required)
        return True
    except TypeError:
        return False


passed, tried = [], {}
for exercise, entry in manifest["exercises"].items():
    checks = importlib.import_module(entry["checks_module"])
    reference = getattr(importlib.import_module(checks.GRADED[exercise]["function"].rsplit(".", 1)[0]), exercise)
    n_required = sum(1 for p in inspect.signature(reference).parameters.values()
                     if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    candidates = {name: f for name, f in public.items() if f is not reference and fits(f, n_required)}
    tried[exercise] = sorted(candidates)
    for name, function in candidates.items():
        # The function itself, and its first item (transpose_axis(...)[0] gives the output size).
        for variant in (function, lambda *args, _f=function, **kwargs: _f(*args, **kwargs)[0]):
            try:
                check = getattr(checks, f"check_{exercise}")
                with contextlib.redirect_stdout(io.StringIO()):
                    check(variant)
                passed.append(f"{exercise} <- {name}")
            except CheckFailed:
                pass
print(json.dumps({"passed": passed, "tried": tried}))
"""


def test_no_exercise_of_the_student_copy_is_passed_by_a_public_library_function():
    release = course_release()
    completed = subprocess.run([sys.executable, "-c", NO_ANSWER_IN_THE_LIBRARY], cwd=release, capture_output=True,
                               text=True, env=dict(os.environ, PYTHONPATH=str(release)), timeout=600, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.splitlines()[-1])
    assert result["passed"] == []
    # The functions that would have passed before the checks refused library answers were among those tried.
    assert "unet_lib.reference.arithmetic.transpose_axis" in result["tried"]["conv_transpose_output_size"]
    assert "unet_lib.reference.convolution.conv_transpose2d" in result["tried"]["conv_transpose2d_naive"]


LESSONS_WITH_EXERCISES = sorted({lesson for exercise in discover_exercises(REPO_ROOT / "unet_lib").values()
                                  for lesson in exercise.lessons})


@pytest.mark.extended
@pytest.mark.parametrize("lesson", LESSONS_WITH_EXERCISES)
def test_a_blank_student_copy_runs_every_cell_to_the_end_and_lists_what_is_left(lesson, tmp_path):
    # Run the released lesson as JupyterLab's Run All does, stopping at the first cell that ends in an error:
    # none may, since a cell that needs an exercise not written yet says so in one line and ends there. The
    # lesson's last output is the list of its exercises still to write.
    release = course_release()
    executed = tmp_path / f"{lesson}.ipynb"
    command = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
               "--ExecutePreprocessor.timeout=600", "--output", str(executed), str(release / "lessons" / executed.name)]
    completed = subprocess.run(command, cwd=release / "lessons", capture_output=True, text=True, timeout=1200,
                               env=dict(os.environ, PYTHONPATH=str(release)), check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    cells = json.loads(executed.read_text())["cells"]
    printed = ["".join(output.get("text", "")) for cell in cells for output in cell.get("outputs", [])]
    assert any("not written yet" in text for text in printed), "a blank lesson meets its unwritten exercises"
    last = [text for text in printed if text.strip()][-1]
    expected = [name for name, exercise in discover_exercises(REPO_ROOT / "unet_lib").items()
                if lesson in exercise.lessons]
    assert last.startswith("Still to write in this lesson: "), last
    assert sorted(last.splitlines()[0].removeprefix("Still to write in this lesson: ").rstrip(".").split(", ")) \
        == sorted(expected), last


def test_an_nbgrader_lesson_is_given_the_earlier_lessons_answers_it_imports(tmp_path):
    # Graded one by one, lesson 04's assignment cannot count on lesson 03's folder: it is given my_unet.py, the
    # decoder step the solved lesson 03 saves; the lessons after 04 get lesson 04's three functions. Students'
    # own copies (the release, the workbook) get none: there the lessons save each learner's own.
    build_nbgrader_course(tmp_path / "course", REPO_ROOT / "lessons", REPO_ROOT / "unet_lib")
    given = {folder.name: folder / "my_unet.py" for folder in sorted((tmp_path / "course" / "source").iterdir())}
    assert [name for name, path in given.items() if path.exists()] == [
        "04_unet", "05_train_unet", "06_your_own_data", "07_real_world", "08_appendix_speed_and_hardware"]
    defined = {name: re.findall(r"^def (\w+)\(", path.read_text(), re.MULTILINE) for name, path in given.items()
               if path.exists()}
    u_net = ["upsampling_block", "conv_block", "unet_model"]
    assert defined == {"04_unet": ["upsampling_block"], "05_train_unet": u_net, "06_your_own_data": u_net,
                       "07_real_world": u_net, "08_appendix_speed_and_hardware": u_net}
    assert "### BEGIN SOLUTION" not in given["06_your_own_data"].read_text()
    program = ("import sys; sys.path.insert(0, sys.argv[1])\nfrom my_unet import unet_model\n"
               "from unet_lib import check_unet_model\ncheck_unet_model(unet_model)")
    completed = subprocess.run([sys.executable, "-c", program, str(given["06_your_own_data"].parent)],
                               capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path)
    assert completed.returncode == 0 and "all 3 cases match" in completed.stdout, completed.stderr[-2000:]
