"""Grade a folder of submitted lesson notebooks: ``python -m unet_lib grade SUBMISSIONS_DIR --out grades.csv``.

A submission is a subfolder per student holding lesson notebooks (``alice/00_setup.ipynb``), or a
single notebook per student (``alice.ipynb``, matched to a lesson by its title). Each one is graded
in two steps, neither of which trusts the submission:

1. **Run** (:mod:`unet_lib.classroom.runner`). The notebook runs top to bottom in a fresh kernel
   (nbclient) started through ``sandbox.py``: a per-cell and a total time limit, a memory cap, a
   CPU-time cap, a file-size cap, no network where ``unshare -rn`` works, at most ``output_kb``
   of output kept. The kernel works in a private copy of the student release. The run's outcome (which cells failed, a
   timeout, a dead kernel) goes to the student's feedback file; marks do not depend on it.
2. **Check.** For each exercise, a new sandboxed process (:mod:`unet_lib.classroom.collect`) runs
   only what the solution needs: the lesson's imports and functions it uses, the student's
   earlier solutions' definitions, the student's solution cell, then the lesson's own
   ``check_<exercise>(...)`` call. In ``"answers"`` mode that process only reports the student's
   answers, and this process compares them with the reference answers recorded in the
   instructor's release, read before any student code ran. A notebook that monkeypatches the
   checker, redefines ``assert`` or edits the files on its disk gains nothing. A check with its
   own comparison (``"self-judged"`` mode, e.g. the layer-by-layer model checks) runs whole in
   that process and reports its verdict: a notebook's patches still gain nothing, but code in the
   solution cell itself could patch the check it runs beside. Checks that end in ``core.verify``
   do not have that weakness.

Submissions are only read. A notebook that is not JSON or not nbformat 4 gets zero with the reason.
Independent submissions run in parallel, one thread per worker, each waiting on its own processes.
"""

from __future__ import annotations

import argparse
import ast
import csv
import dataclasses
import json
import os
import pickle
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from unet_lib.classroom.release import MANIFEST, build_release
from unet_lib.classroom.sandbox import Limits, network_prefix, sandbox_environment, sandboxed

COLLECT = Path(__file__).with_name("collect.py")
MAX_NOTEBOOK_BYTES = 50 * 2**20


@dataclasses.dataclass(frozen=True)
class Grade:
    """One row of ``grades.csv``: a student's marks for one exercise."""

    student: str
    lesson: str
    exercise: str
    points: int
    max_points: int
    feedback: str


# --- the instructor's release, read once before any student code runs ---------------------------------------------


@dataclasses.dataclass
class _Release:
    root: Path
    package: str
    manifest: dict
    records: dict[str, dict]  # exercise -> recorded cases, title, tolerances, mode
    files: dict[str, bytes]  # package files for check processes, answers-mode records without expected answers


def _load_release(root: Path) -> _Release:
    manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    package = manifest["package"]
    recorded_dir = root / package / "checks" / "recorded"
    records, files = {}, {}
    for name, exercise in manifest["exercises"].items():
        with (recorded_dir / f"{name}.pkl").open("rb") as file:
            records[name] = pickle.load(file)
        shown = records[name] if exercise["mode"] == "self-judged" else {
            **records[name], "cases": [{**case, "expected": None} for case in records[name]["cases"]]}
        files[f"{package}/checks/recorded/{name}.pkl"] = pickle.dumps(shown, protocol=4)
    for path in sorted((root / package).rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and "__pycache__" not in relative and "/checks/recorded/" not in relative:
            files[relative] = path.read_bytes()
    return _Release(root, package, manifest, records, files)


# --- step 2: check each exercise (step 1 is in runner.py) --------------------------------------------------

_DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _statements(source: str, kinds: tuple) -> list[tuple[str, set[str], set[str]]]:
    """Top-level statements of the given kinds: (source, names bound, names used)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in tree.body:
        if not isinstance(node, kinds):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound = {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            bound = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        else:
            bound = {node.name}
        used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - bound
        found.append((ast.unparse(node), bound, used))
    return found


def _names_used(source: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}


def _needed_definitions(candidates: list[tuple[str, set[str], set[str]]], needed: set[str]) -> list[str]:
    """The candidates that define what ``needed`` uses, directly or through other candidates, in order."""
    needed, chosen = set(needed), set()
    changed = True
    while changed:
        changed = False
        for index, (_, bound, used) in enumerate(candidates):
            if index not in chosen and bound & needed:
                chosen.add(index)
                needed |= used
                changed = True
    return [candidates[index][0] for index in sorted(chosen)]


def _student_cell(cells: list, lesson_cells: list, index: int):
    """The submission's cell matching the lesson's cell ``index``: by cell id, else by position."""
    cell_id = lesson_cells[index].get("id")
    for cell in cells:
        if cell_id and cell.get("id") == cell_id:
            return cell
    return cells[index] if index < len(cells) and cells[index].cell_type == "code" else None


def _decode(value):
    """Inverse of :func:`unet_lib.classroom.collect.encode`, for JSON from an untrusted process."""
    import numpy as np

    if isinstance(value, list):  # JSON has no tuples; encode never emits bare lists
        return repr(value)
    if not isinstance(value, dict):
        return value
    if "sequence" in value:
        items = [_decode(item) for item in value["items"]]
        return tuple(items) if value["sequence"] == "tuple" else items
    if "array" in value:
        dtype = np.dtype(str(value["dtype"]))
        if dtype.kind not in "biuf":
            return "an array of an unsupported type"
        return np.array(value["array"], dtype=dtype).reshape([int(n) for n in value["shape"]])
    if "too_large" in value:
        return f"an array of shape {tuple(value['too_large'])}, too large to compare"
    return str(value.get("repr", "an answer that cannot be compared"))


def _judge(record: dict, result: dict) -> tuple[bool, str]:
    """Compare the answers a check process reported with the recorded reference answers."""
    # Imported here: unet_lib.checks loads Keras, which `python -m unet_lib --help` should not wait for.
    from unet_lib.checks.core import case_differs_message, describe_difference

    answers = result.get("answers") or []
    title = record["title"]
    for index, case in enumerate(record["cases"]):
        if index >= len(answers) or answers[index].get("label") != case["label"]:
            return False, result.get("feedback") or f"{title}: case '{case['label']}' was not checked"
        try:
            got = _decode(answers[index]["got"])
        except (TypeError, ValueError, KeyError) as error:
            return False, f"{title}: case '{case['label']}': the answer could not be read ({error})"
        difference = describe_difference(got, case["expected"], rtol=record["rtol"], atol=record["atol"])
        if difference is not None:
            return False, case_differs_message(title, case["label"], difference)
    return True, f"{title}: all {len(record['cases'])} cases match the reference."


def _check_exercise(spec: dict, release: _Release, limits: Limits, network: list[str]) -> tuple[bool, str]:
    """Run one check process in a fresh copy of the release's package; return (passed, feedback)."""
    exercise = spec["exercise"]
    with tempfile.TemporaryDirectory(prefix="unet-check-") as work:
        work = Path(work)
        for relative, content in release.files.items():
            (work / relative).parent.mkdir(parents=True, exist_ok=True)
            (work / relative).write_bytes(content)
        spec = {**spec, "package": release.package, "result": str(work / "result.json"),
                "checks_module": release.manifest["exercises"][exercise]["checks_module"],
                "mode": release.manifest["exercises"][exercise]["mode"]}
        (work / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
        # Run by path from the instructor's copy, so the collector is the grader's own code whatever the release holds.
        command = sandboxed([sys.executable, str(COLLECT), str(work / "spec.json")],
                             limits, limits.check_seconds, network)
        process = subprocess.Popen(command, cwd=work, env=sandbox_environment(work, work), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            process.wait(timeout=limits.check_seconds)
        except subprocess.TimeoutExpired:
            return False, f"{exercise}: stopped after {limits.check_seconds:g} s (an endless loop?)"
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # whatever the solution started goes too
            except ProcessLookupError:
                pass
            process.wait()
        result_path = work / "result.json"
        if not result_path.is_file() or result_path.stat().st_size > 64 * 2**20:
            return False, (f"{exercise}: the check process ended without a result (exit code {process.returncode}; "
                           "did the code exit the process or run out of memory?)")
        try:
            result = json.loads(result_path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            return False, f"{exercise}: the check process left an unreadable result"
    if spec["mode"] == "answers":
        return _judge(release.records[exercise], result)
    if result.get("passed") is True:
        return True, f"{exercise}: passed"
    return False, str(result.get("feedback") or f"{exercise}: failed")


# --- one submission --------------------------------------------------------------------------------------------------


def _read_notebook(path: Path):
    """The submission as an nbformat 4 notebook, or the reason it cannot be graded."""
    import nbformat

    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        return None, f"the notebook is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB"
    try:
        raw = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as error:
        return None, f"the notebook is not valid JSON ({str(error)[:120]})"
    if not isinstance(raw, dict) or raw.get("nbformat") != 4:
        found = raw.get("nbformat") if isinstance(raw, dict) else type(raw).__name__
        return None, f"the notebook is not in nbformat 4 (found {found!r}); save it from Jupyter and resubmit"
    try:
        notebook = nbformat.reads(json.dumps(raw), as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # noqa: BLE001 - any validation failure is a reason, not a crash
        return None, f"the notebook does not follow nbformat 4 ({str(error).splitlines()[0][:160]})"
    return notebook, None


def _grade_lesson(student: str, lesson: str, path: Path | None, release: _Release, limits: Limits,
                  network: list[str]) -> tuple[list[Grade], list[str]]:
    import nbformat

    from unet_lib.classroom.runner import run_notebook

    placed = release.manifest["lessons"][lesson]
    if path is None:
        return [Grade(student, lesson, e["exercise"], 0, 1, "no notebook submitted for this lesson")
                for e in placed], [f"{lesson}: no notebook submitted"]
    notebook, reason = _read_notebook(path)
    if notebook is None:
        return [Grade(student, lesson, e["exercise"], 0, 1, reason) for e in placed], [f"{lesson}: {reason}"]
    lesson_cells = nbformat.read(release.root / "lessons" / lesson, as_version=4).cells
    report = [f"{lesson} ({path.name}):"] + [f"  {line}" for line in
                                              run_notebook(notebook, release.root, limits, network)]
    grades = []
    for exercise in placed:
        solution = _student_cell(notebook.cells, lesson_cells, exercise["solution_cell"])
        if solution is None:
            passed, feedback = False, f"{exercise['exercise']}: the solution cell is missing from the notebook"
        else:
            try:
                needed = _names_used(solution.source) | _names_used(exercise["check_call"])
            except SyntaxError as error:
                needed = None
                passed, feedback = False, f"{exercise['exercise']}: the solution cell is not valid Python ({error})"
            if needed is not None:
                # Definitions the solution may use: the lesson's own (instructor's copy) and, for cells that
                # were earlier exercises, the student's solutions there (definitions only, so an earlier
                # cell's stray top-level code cannot take this exercise down with it).
                solution_cells = {e["solution_cell"] for e in placed}
                candidates = []
                for index, cell in enumerate(lesson_cells[:exercise["solution_cell"]]):
                    if cell.cell_type != "code":
                        continue
                    if index in solution_cells:
                        earlier = _student_cell(notebook.cells, lesson_cells, index)
                        candidates += _statements(earlier.source if earlier else "", _DEFINITIONS)
                    else:
                        candidates += _statements(cell.source, (*_DEFINITIONS, ast.Assign, ast.AnnAssign))
                spec = {"exercise": exercise["exercise"], "solution": solution.source,
                        "check_call": exercise["check_call"],
                        "definitions": _needed_definitions(candidates, needed)}
                passed, feedback = _check_exercise(spec, release, limits, network)
        grades.append(Grade(student, lesson, exercise["exercise"], int(passed), 1, feedback))
        report.append(f"  [{'pass' if passed else 'FAIL'}] {feedback}")
    return grades, report


# --- the batch ------------------------------------------------------------------------------------------------------


def _lesson_of(path: Path, release: _Release) -> str | None:
    if path.name in release.manifest["lessons"]:
        return path.name
    from unet_lib.course import lesson_title

    try:
        title = lesson_title(path)
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        return None
    for lesson in release.manifest["lessons"]:
        if lesson_title(release.root / "lessons" / lesson) == title:
            return lesson
    return None


def _submissions(submissions_dir: Path) -> dict[str, list[Path]]:
    students = {}
    for entry in sorted(submissions_dir.iterdir()):
        if entry.is_dir() and not entry.name.startswith("."):
            students[entry.name] = sorted(p for p in entry.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        elif entry.suffix == ".ipynb":
            students[entry.stem] = [entry]
    return students


def grade(submissions_dir: str | Path, out_csv: str | Path, *, release_dir: str | Path | None = None,
          feedback_dir: str | Path | None = None, lessons: list[str] | None = None, limits: Limits | None = None,
          workers: int | None = None) -> list[Grade]:
    """Grade every submission in ``submissions_dir``; write ``out_csv`` and one feedback file per student.

    Args:
        submissions_dir: a subfolder of notebooks, or one notebook, per student.
        out_csv: the grades, one row per student and exercise: student, lesson, exercise, points,
            max_points, feedback.
        release_dir: the instructor's student release (``python -m unet_lib release``); by default
            one is built from the installed course into a temporary folder.
        feedback_dir: where ``<student>.txt`` files go; default ``feedback/`` beside ``out_csv``.
        lessons: the lessons to grade (file names); default every lesson with exercises that some
            submission contains.
        limits: time, memory and output limits for each submission; default :class:`Limits` ``()``.
        workers: submissions graded at once; default the number of CPU cores.

    Returns:
        The rows written to ``out_csv``.

    Raises:
        ValueError: if ``submissions_dir`` is not a folder, ``release_dir`` is not a release, or a
            named lesson has no exercises.
    """
    submissions_dir, limits = Path(submissions_dir), limits or Limits()
    if not submissions_dir.is_dir():
        raise ValueError(f"submissions_dir must be a folder of submissions, got {str(submissions_dir)!r}")
    out_csv = Path(out_csv)
    feedback_dir = Path(feedback_dir) if feedback_dir else out_csv.parent / "feedback"
    with tempfile.TemporaryDirectory(prefix="unet-release-") as built:
        if release_dir is None:
            build_release(Path(built) / "release")
            release_dir = Path(built) / "release"
        if not (Path(release_dir) / MANIFEST).is_file():
            raise ValueError(f"release_dir must be a student release with {MANIFEST}, got {str(release_dir)!r}")
        release = _load_release(Path(release_dir).resolve())
        students = _submissions(submissions_dir)
        located = {student: {path: _lesson_of(path, release) for path in paths} for student, paths in students.items()}
        graded_lessons = [name for name, placed in release.manifest["lessons"].items() if placed]
        if lessons is not None:
            unknown = sorted(set(lessons) - set(graded_lessons))
            if unknown:
                raise ValueError(f"lessons must be lessons with exercises {graded_lessons}, got {unknown}")
            chosen = list(lessons)
        else:
            found = {lesson for paths in located.values() for lesson in paths.values()}
            chosen = [name for name in graded_lessons if name in found] or graded_lessons
        jobs = []
        for student, paths in located.items():
            for lesson in chosen:
                matching = [path for path, found in paths.items() if found == lesson]
                if not matching and len(paths) == 1 and next(iter(paths.values())) is None:
                    matching = list(paths)  # a single unreadable notebook: graded as this lesson, with its reason
                jobs.append((student, lesson, matching[0] if matching else None))
        network = network_prefix()
        with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
            results = list(pool.map(lambda job: _grade_lesson(*job, release, limits, network), jobs))
    grades = [row for rows, _ in results for row in rows]
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with out_csv.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow([field.name for field in dataclasses.fields(Grade)])
        for row in grades:
            writer.writerow([row.student, row.lesson, row.exercise, row.points, row.max_points,
                             row.feedback.splitlines()[0][:300] if row.feedback else ""])
    feedback_dir.mkdir(parents=True, exist_ok=True)
    for student in students:
        lines = [f"Feedback for {student}", ""]
        for (rows, report), job in zip(results, jobs, strict=True):
            if job[0] == student:
                lines += report + [f"  {sum(r.points for r in rows)} / {sum(r.max_points for r in rows)} points", ""]
        (feedback_dir / f"{student}.txt").write_text("\n".join(lines), encoding="utf-8")
    return grades


def add_command(subparsers) -> None:
    """The ``grade`` verb: grade a folder of submitted notebooks."""
    parser = subparsers.add_parser("grade", help="grade a folder of submitted lesson notebooks into a CSV")
    parser.add_argument("submissions_dir", help="one subfolder of notebooks, or one notebook, per student")
    parser.add_argument("--out", default="grades.csv", help="CSV to write (default: grades.csv)")
    parser.add_argument("--release", default=None, help="the student release to grade against (default: build one)")
    parser.add_argument("--feedback", default=None, help="folder for <student>.txt (default: feedback/ beside --out)")
    parser.add_argument("--lesson", action="append", default=None, help="grade only this lesson (repeatable)")
    parser.add_argument("--cell-timeout", type=float, default=Limits.cell_seconds, help="seconds per notebook cell")
    parser.add_argument("--total-timeout", type=float, default=Limits.total_seconds, help="seconds per notebook")
    parser.add_argument("--check-timeout", type=float, default=Limits.check_seconds, help="seconds per exercise check")
    parser.add_argument("--memory-mb", type=int, default=Limits.memory_mb, help="address-space cap (0: none)")
    parser.add_argument("--workers", type=int, default=None, help="submissions at once (default: CPU cores)")
    parser.set_defaults(handler=_run_grade)


def _run_grade(arguments: argparse.Namespace) -> int:
    limits = Limits(cell_seconds=arguments.cell_timeout, total_seconds=arguments.total_timeout,
                    check_seconds=arguments.check_timeout, memory_mb=arguments.memory_mb)
    try:
        grades = grade(arguments.submissions_dir, arguments.out, release_dir=arguments.release,
                       feedback_dir=arguments.feedback, lessons=arguments.lesson, limits=limits,
                       workers=arguments.workers)
    except ValueError as error:
        print(f"grade: {error}", file=sys.stderr)
        return 2
    students = {row.student for row in grades}
    print(f"Graded {len(students)} students: {sum(r.points for r in grades)} of "
          f"{sum(r.max_points for r in grades)} points in all; wrote {arguments.out}.")
    return 0
