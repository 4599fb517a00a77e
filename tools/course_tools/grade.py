"""Grade a class in sandboxes, with points decided outside them: ``python -m course_tools grade COURSE DIR``.

``COURSE`` is an nbgrader course folder written by ``python -m course_tools release COURSE --nbgrader``;
``DIR`` holds one folder per student with the lesson notebooks they hand back
(``DIR/alice/01_transpose_convolution.ipynb``). For each student and lesson:

1. **The grader reads the notebook** itself, as a regular file opened without following links, at most
   :data:`MAX_NOTEBOOK_BYTES`, and parses it as JSON; anything else is "not a notebook" in that row.
2. **The student's functions are called on the graded cases in a sandbox**
   (:mod:`course_tools.sandbox`: uid nobody, no capability, no network, its own ``/tmp`` and
   ``/sandbox``, read-only everything else) by :mod:`course_tools.sandbox_harness`, where the course
   library is absent. Only plain data comes back (:mod:`course_tools.plain_data`), at most
   ``Limits.output_mb``.
3. **The points are decided here**, in a process that runs no student code: each answer is compared
   with the reference's answers that ``release --nbgrader`` recorded in ``COURSE/grading.json`` (visible
   and hidden cases; the expected answers never enter a sandbox). An exercise scores its points when every
   case matches.
4. **The notebook runs top to bottom in a second sandbox** (:mod:`course_tools.sandbox_notebook`,
   with the student copy of the library and the lesson's figures) for the feedback: its outputs, whatever
   they are, never change a point.
5. **Feedback** goes to ``COURSE/feedback/<student>/<lesson>/<lesson>.html``, written here from that plain
   data: the points per exercise, what differed, and the executed cells, every text escaped and only PNG
   images kept.

Each submission's two sandboxes run in a cgroup of its own (Debian's cgroup-tools: ``cgcreate``,
``cgset``, ``cgexec``) capping the memory and processes of all its processes together, under a
:mod:`~course_tools.reaper` that ends and reaps whatever they leave; the cgroup is removed after.
Every (student, lesson) is its own row of ``grades.csv``: a crash, a timeout, a broken notebook or an
odd folder name costs that row only.
"""

from __future__ import annotations

import argparse
import base64
import csv
import dataclasses
import errno
import html
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from course_tools import plain_data, reaper, sandbox, sandbox_harness, sandbox_notebook
from course_tools.release import GRADING
from unet_lib._validate import check_positive_int
from unet_lib.checks.core import describe_difference

MAX_NOTEBOOK_BYTES = 50 * 2**20
"""A handed-in notebook larger than this is not read."""
NOT_HANDED_IN = "not handed in"
SPREADSHEET_FORMULA = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet reads as the start of a formula; a ``grades.csv`` field starting so gets a ``'`` first."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one submission's grading may use.

    Attributes:
        seconds: wall-clock limit of each of its two sandboxes (the graded calls; the notebook's run).
        cell_seconds: limit of one cell in the notebook's run; a cell past it is interrupted, the next runs.
        memory_mb: total memory of the submission's processes (its cgroup), its tmpfs files included.
        max_processes: processes and threads at once in that cgroup.
        disk_mb: size of each of the sandbox's writable folders, ``/sandbox`` and ``/tmp``.
        output_mb: what is kept of what a sandbox hands back (answers, or the executed notebook).
    """

    seconds: float = 1800
    cell_seconds: int = 900
    memory_mb: int = 8192
    max_processes: int = 512
    disk_mb: int = 512
    output_mb: int = 20

    def __post_init__(self):
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, (int, float)) or not self.seconds > 0:
            raise ValueError(f"seconds must be a positive number, got {self.seconds!r}")
        for name in ("cell_seconds", "memory_mb", "max_processes", "disk_mb", "output_mb"):
            check_positive_int(name, getattr(self, name))


@dataclasses.dataclass(frozen=True)
class Grade:
    """One row of ``grades.csv``."""

    student: str
    lesson: str
    points: float
    max_points: float
    status: str


@dataclasses.dataclass(frozen=True)
class ExerciseResult:
    """How one exercise of a submission scored: its points and, when they are 0, the first reason."""

    exercise: str
    points: float
    max_points: float
    message: str


def read_notebook(path: Path) -> dict | str:
    """The notebook at ``path`` as JSON, or a short reason why it is not one.

    Opened without following a link, and only as a regular file of at most :data:`MAX_NOTEBOOK_BYTES`: a link,
    a folder or a device is not read, nor is anything outside the submission on its behalf.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        return f"not read ({'a link' if error.errno == errno.ELOOP else os.strerror(error.errno)})"
    with os.fdopen(descriptor, "rb") as file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode):
            return "not a regular file"
        text = file.read(MAX_NOTEBOOK_BYTES + 1)
    if len(text) > MAX_NOTEBOOK_BYTES:
        return f"larger than {MAX_NOTEBOOK_BYTES // 2**20} MB"
    try:
        notebook = json.loads(text)
    except (ValueError, RecursionError):
        return "not JSON"
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list) or not all(
            isinstance(cell, dict) and isinstance(cell.get("cell_type"), str) and _is_source(cell.get("source"))
            for cell in cells):
        return "JSON, but not a notebook (no list of cells with a type and a source)"
    return notebook


def _is_source(source) -> bool:
    return isinstance(source, str) or isinstance(source, list) and all(isinstance(line, str) for line in source)


def _text(source) -> str:
    return source if isinstance(source, str) else "".join(source)


def code_cells(notebook: dict) -> list[str]:
    """The sources of the notebook's code cells, in order."""
    return [_text(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]


def _write_files(folder: Path, files: dict[str, str | Path]) -> None:
    """Write ``files`` (name -> text, or a file to copy) into ``folder``, readable by the sandbox's nobody."""
    folder.mkdir(mode=0o755, parents=True, exist_ok=True)
    for name, content in files.items():
        target = folder / name
        if isinstance(content, Path):
            shutil.copyfile(content, target)
        else:
            target.write_text(content, encoding="utf-8")
        target.chmod(0o644)


def _harness_library(student_package: Path, into: Path) -> None:
    """The part of the student copy that the harness may import for real: its private helper modules (``_keras``
    and the like) and its ``checks``; every other module of the package is a stand-in there."""
    target = into / student_package.name
    shutil.copytree(student_package / "checks", target / "checks",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for module in student_package.glob("_*.py"):  # with __init__.py, whose exports the harness reads
        shutil.copyfile(module, target / module.name)
    for path in [into, *into.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


class _Submission:
    """One student's notebook for one lesson: its two sandboxes, in a cgroup of their own."""

    def __init__(self, course: Path, grading: dict, lesson: str, notebook_name: str, notebook: dict, limits: Limits,
                 scratch: Path):
        self.course, self.grading, self.lesson, self.notebook = course, grading, lesson, notebook
        self.notebook_name = notebook_name
        self.limits, self.scratch = limits, scratch
        self.source = course / "source" / lesson

    def _run(self, cgroup: _Cgroup, job: Path, command: list[str], **options) -> sandbox.Confined:
        line = sandbox.bwrap_command(job, command, self.limits.disk_mb, **options)
        return sandbox.run_confined(cgroup.prefix(), line, self.limits.seconds, self.limits.output_mb * 2**20,
                                    on_timeout=lambda pid: cgroup.kill(spare=pid))

    def answers(self, cgroup: _Cgroup) -> dict | str:
        """The harness's reply, ``{"results": {exercise: [outcome per case]}, "problems": [line per statement
        that raised]}`` (untrusted), or why there is none."""
        entries = self.grading["assignments"][self.lesson]
        job = Path(tempfile.mkdtemp(prefix="harness-", dir=self.scratch))
        job.chmod(0o755)
        package = self.grading["package"]
        _harness_library(self.source / package, job / "library")
        for given in self.source.glob("*.py"):  # the answers of earlier lessons this one imports (my_unet.py)
            shutil.copyfile(given, job / "library" / given.name)
            (job / "library" / given.name).chmod(0o644)
        exercises = [{"name": entry["exercise"], "function": self.grading["exercises"][entry["exercise"]]["function"],
                      "kind": self.grading["exercises"][entry["exercise"]]["kind"],
                      "cases": [{"label": case["label"], "args": case["args"], "kwargs": case["kwargs"]}
                                for case in self.grading["exercises"][entry["exercise"]]["cases"]]}
                     for entry in entries]
        request = {"cells": code_cells(self.notebook), "package": package, "library_dir": "/sandbox-job/library",
                   "exercises": exercises}
        _write_files(job, {"job.json": plain_data.dumps(request), "harness.py": Path(sandbox_harness.__file__),
                           "plain_data.py": Path(plain_data.__file__)})
        ran = self._run(cgroup, job, [sys.executable, "-I", "/sandbox-job/harness.py", "/sandbox-job/job.json"],
                        environment=_kernel_environment())
        if ran.returncode is None:
            return f"the graded calls ran past {self.limits.seconds:g} s"
        if ran.output_cut:
            return f"the graded calls returned more than {self.limits.output_mb} MB"
        try:
            reply = plain_data.loads(ran.output.split(b"\n", 1)[0])
            if not isinstance(reply["results"], dict) or not isinstance(reply["problems"], list):
                raise TypeError("results")
        except (plain_data.NotPlainData, KeyError, TypeError):
            ended = f"killed by signal {-ran.returncode}" if ran.returncode and ran.returncode < 0 else \
                f"exit code {ran.returncode}"
            return f"the graded calls gave no answer ({ended}: out of memory or processes?)"
        return reply

    def executed_notebook(self, cgroup: _Cgroup) -> dict | str:
        """The notebook run top to bottom in the sandbox, for the feedback; or why there is none."""
        job = Path(tempfile.mkdtemp(prefix="notebook-", dir=self.scratch))
        job.chmod(0o755)
        notebook = {**self.notebook, "cells": [{**cell, "outputs": []} if cell["cell_type"] == "code" else cell
                                               for cell in self.notebook["cells"]]}
        _write_files(job, {"notebook.ipynb": json.dumps(notebook), "run.py": Path(sandbox_notebook.__file__),
                           **{f"given-{path.name}": path for path in self.source.glob("*.py")}})
        here = f"/sandbox/{self.lesson}"
        binds = [(folder, f"{here}/{folder.name}") for folder in sorted(self.source.iterdir()) if folder.is_dir()]
        ran = self._run(cgroup, job, [sys.executable, "-I", "/sandbox-job/run.py", "/sandbox-job/notebook.ipynb",
                                      self.notebook_name, str(self.limits.cell_seconds),
                                      str(self.limits.output_mb * 2**20 // 2)],
                        binds=binds, working_dir=here,
                        environment={**_kernel_environment(), "NBGRADER_EXECUTION": "autograde"})
        if ran.returncode is None:
            return f"the notebook ran past {self.limits.seconds:g} s"
        try:
            executed = json.loads(ran.output.split(b"\n", 1)[0])
            if isinstance(read_cells := executed.get("cells"), list) and read_cells:
                return {"cells": read_cells}
        except (ValueError, RecursionError, AttributeError):
            pass
        return "the notebook's run gave nothing back"


def _kernel_environment() -> dict[str, str]:
    """The variables a sandboxed Python gets: quiet, with the grader's Keras backend, nothing else of the grader's."""
    passed = {name: os.environ[name] for name in ("KERAS_BACKEND", "OMP_NUM_THREADS") if name in os.environ}
    return {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore", "MPLCONFIGDIR": "/tmp/matplotlib",
            "JUPYTER_RUNTIME_DIR": "/tmp/jupyter", "PYTHONNOUSERSITE": "1", **passed}


def score(grading: dict, lesson: str, answers: dict | str) -> list[ExerciseResult]:
    """Each exercise of ``lesson`` with its points: all of them when every graded case matches the reference.

    Args:
        grading: ``COURSE/grading.json``, decoded.
        lesson: the lesson (assignment) name.
        answers: the harness's reply, with ``"results"``: exercise -> one outcome per case; or, as a string, why
            there is none.
    """
    outcomes = answers.get("results", {}) if isinstance(answers, dict) else {}
    results = []
    for entry in grading["assignments"][lesson]:
        name, points = entry["exercise"], entry["points"]
        record = grading["exercises"][name]
        got = outcomes.get(name) if isinstance(outcomes, dict) else None
        if not isinstance(got, list) or len(got) != len(record["cases"]):
            message = answers if isinstance(answers, str) else "no answers came back"
        else:
            message = next((f"case '{case['label']}': {difference}" for case, outcome in zip(record["cases"], got,
                                                                                             strict=True)
                            if (difference := outcome_difference(record["kind"], outcome, case["expected"]))), "")
        results.append(ExerciseResult(name, 0.0 if message else float(points), float(points), message))
    return results


def outcome_difference(kind: str, got, expected: dict) -> str | None:
    """How the outcome of the student's function on one case differs from the reference's; ``None`` if it does not.

    Args:
        kind: "call", "block" or "model" (how the function was called).
        got: the harness's outcome, untrusted: ``{"value"}``, ``{"raised", "message"}``, ``{"not_plain"}`` or
            ``{"missing"}``.
        expected: the reference's, from ``grading.json``.
    """
    if not isinstance(got, dict):
        return "no answer came back"
    if "missing" in got:
        return f"no function {got['missing']!s:.80} is defined"
    if "not_plain" in got:
        return f"the answer is not plain data ({got['not_plain']!s:.200})"
    if "raised" in expected:
        if got.get("raised") == expected["raised"]:
            return None
        return f"expected {expected['raised']} to be raised, got " + (
            f"{got['raised']!s:.80}: {got.get('message')!s:.200}" if "raised" in got else "an answer")
    if "raised" in got:
        if got["raised"] == "NotImplementedError":
            return "not written yet (the function still raises NotImplementedError)"
        return f"raised {got['raised']!s:.80}: {got.get('message')!s:.300}"
    try:
        if kind == "call":
            return describe_difference(got.get("value"), expected["value"])
        from unet_lib.checks.model import behaviour_difference  # Keras only for the exercises that build models

        return behaviour_difference(got.get("value"), expected["value"])
    except Exception as error:  # noqa: BLE001 - an answer shaped to break the comparison is a wrong answer
        return f"the answer could not be compared ({type(error).__name__})"


def _spreadsheet_safe(field: str) -> str:
    return "'" + field if field.startswith(SPREADSHEET_FORMULA) else field


def _printable(name: str) -> str:
    """A folder name as text that every file and spreadsheet takes (bytes that are not UTF-8 written as escapes)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


FEEDBACK_STYLE = ("body{font-family:sans-serif;max-width:60rem;margin:2rem auto}pre{white-space:pre-wrap;"
                  "background:#f6f6f6;padding:.5rem}.out{background:#fff;border-left:3px solid #ccc}"
                  ".error{border-left-color:#c00}td,th{padding:.2rem .6rem;text-align:left}")


def feedback_html(student: str, lesson: str, results: list[ExerciseResult], notebook: dict | str,
                  problems: list = ()) -> str:
    """The feedback page: the points per exercise with what differed, the lines of code that raised while the
    graded functions were defined, then the executed cells; every text escaped."""
    escape = html.escape
    rows = "".join(f"<tr><td>{escape(r.exercise)}</td><td>{r.points:g} / {r.max_points:g}</td>"
                   f"<td><pre>{escape(r.message) or '✓ every case matches the reference'}</pre></td></tr>"
                   for r in results)
    total = f"{sum(r.points for r in results):g} / {sum(r.max_points for r in results):g}"
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(lesson)}: {escape(student)}</title>"
             f"<style>{FEEDBACK_STYLE}</style></head><body><h1>{escape(lesson)}</h1>"
             f"<p>Student: {escape(student)}. Score: {total}</p>"
             f"<table><tr><th>exercise</th><th>points</th><th>graded cases</th></tr>{rows}</table>"]
    if problems:
        lines = "\n".join(str(problem)[:400] for problem in problems[:50])
        parts.append(f"<p>While grading defined your functions, these lines raised:</p><pre>{escape(lines)}</pre>")
    parts.append("<h2>Your notebook, as it ran</h2>")
    if isinstance(notebook, str):
        parts.append(f"<p>{escape(notebook)}</p>")
    else:
        for cell in notebook["cells"]:
            if not isinstance(cell, dict):
                continue
            parts.append(f"<pre>{escape(_text(cell.get('source', '')) if _is_source(cell.get('source')) else '')}"
                         "</pre>")
            for output in cell.get("outputs", []) if isinstance(cell.get("outputs"), list) else []:
                parts.append(_output_html(output))
    return "".join(parts) + "</body></html>\n"


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _output_html(output) -> str:
    """One output as escaped text, or a PNG image (checked to be one); anything else (HTML, scripts) left out."""
    if not isinstance(output, dict):
        return ""
    if output.get("output_type") == "stream" and _is_source(output.get("text")):
        return f"<pre class='out'>{html.escape(_text(output['text']))}</pre>"
    if output.get("output_type") == "error":
        lines = output.get("traceback") if _is_source(output.get("traceback")) else []
        text = ANSI.sub("", "\n".join(lines)) or f"{output.get('ename')}: {output.get('evalue')}"
        return f"<pre class='out error'>{html.escape(str(text))}</pre>"
    data = output.get("data") if isinstance(output.get("data"), dict) else {}
    png = data.get("image/png")
    if isinstance(png, str):
        try:
            if base64.b64decode(png, validate=True).startswith(b"\x89PNG\r\n\x1a\n"):
                return f"<img alt='figure' src='data:image/png;base64,{png}'>"
        except ValueError:
            pass
    if _is_source(data.get("text/plain")):
        return f"<pre class='out'>{html.escape(_text(data['text/plain']))}</pre>"
    return ""


def _student_folders(submissions_dir: Path) -> list[Path]:
    """Every folder of ``submissions_dir`` (not a link to one), whatever its name."""
    return sorted(Path(entry.path) for entry in os.scandir(submissions_dir) if entry.is_dir(follow_symlinks=False))


def load_grading(course: Path) -> dict:
    """``COURSE/grading.json`` decoded: the assignments' exercises and points, every case with the reference's
    answer.

    Raises:
        ValueError: if the course has none (a course written before the grader recorded it).
    """
    path = course / GRADING
    if not path.is_file():
        raise ValueError(f"course_dir has no {GRADING}: rebuild it with `python -m course_tools release "
                         f"{course} --nbgrader` (it keeps the gradebook and the students' work)")
    grading = json.loads(path.read_text(encoding="utf-8"))
    grading["exercises"] = plain_data.decode(grading["exercises"])
    return grading


def _grade_one(course: Path, grading: dict, student: Path, lesson: str, notebook_name: str, limits: Limits,
               scratch: Path) -> Grade:
    name = _printable(student.name)
    max_points = float(sum(entry["points"] for entry in grading["assignments"][lesson]))
    path = student / notebook_name
    if not os.path.lexists(path):
        return Grade(name, lesson, 0.0, max_points, NOT_HANDED_IN)
    notebook = read_notebook(path)
    if isinstance(notebook, str):
        return Grade(name, lesson, 0.0, max_points, f"not graded: the notebook is {notebook}")
    submission = _Submission(course, grading, lesson, notebook_name, notebook, limits, scratch)
    cgroup = _Cgroup(limits)
    try:
        answers = submission.answers(cgroup) if grading["assignments"][lesson] else {"results": {}, "problems": []}
        cgroup.kill()
        executed = submission.executed_notebook(cgroup)
    finally:
        cgroup.remove()
    results = score(grading, lesson, answers)
    feedback = course / "feedback" / student.name / lesson
    feedback.mkdir(parents=True, exist_ok=True)
    problems = answers["problems"] if isinstance(answers, dict) else []
    (feedback / f"{lesson}.html").write_text(feedback_html(name, lesson, results, executed, problems),
                                             encoding="utf-8")
    if isinstance(executed, dict):  # where nbgrader users look for the run notebook: JSON the grader wrote itself
        autograded = course / "autograded" / student.name / lesson
        autograded.mkdir(parents=True, exist_ok=True)
        (autograded / notebook_name).write_text(json.dumps({**notebook, **executed}), encoding="utf-8")
    status = "graded" if isinstance(answers, dict) else f"graded: {answers}"
    if isinstance(executed, str):
        status += f" (feedback: {executed})"
    return Grade(name, lesson, sum(result.points for result in results), max_points, status)


def grade(course_dir: str | Path, submissions_dir: str | Path, out_csv: str | Path = "grades.csv",
          limits: Limits = Limits(), workers: int = 1) -> list[Grade]:
    """Grade every student's lessons, each confined, points decided outside; write ``grades.csv`` and the feedback.

    Args:
        course_dir: an nbgrader course from ``python -m course_tools release COURSE --nbgrader``.
        submissions_dir: ``<student>/<lesson>.ipynb`` for each student.
        out_csv: the CSV to write: student, lesson, points, max_points, status.
        limits: what each notebook's grading may use.
        workers: notebooks graded at once, each in its own cgroup and sandboxes.

    Returns:
        The rows written, one per student and lesson (a lesson not handed in scores 0, "not handed in").

    Raises:
        ValueError: if a folder is not what it should be, or bwrap, setpriv or cgroup-tools is missing.
    """
    course, submissions_dir, out_csv = Path(course_dir).resolve(), Path(submissions_dir).resolve(), Path(out_csv)
    if not (course / "source").is_dir():
        raise ValueError(f"course_dir must be an nbgrader course from `release --nbgrader`, got {str(course)!r}")
    workers = check_positive_int("workers", workers)
    if not submissions_dir.is_dir():
        raise ValueError(f"submissions_dir must be a folder of student folders, got {str(submissions_dir)!r}")
    grading = load_grading(course)
    notebooks = {}
    for folder in sorted((course / "source").iterdir()):
        found = sorted(folder.glob("*.ipynb"))
        if len(found) == 1 and folder.name in grading["assignments"]:
            notebooks[folder.name] = found[0].name
    with tempfile.TemporaryDirectory(prefix="unet-grade-") as scratch_name:
        scratch = Path(scratch_name)
        sandbox.bwrap_command(scratch, ["true"], limits.disk_mb)  # bwrap and setpriv are there, before any grading
        _Cgroup(limits).remove()  # cgroups usable here (root, cgroup-tools, the limits accepted)
        jobs = [(student, lesson, notebook) for student in _student_folders(submissions_dir)
                for lesson, notebook in notebooks.items()]
        # The longest lessons (the later ones) first, so that the short ones fill in at the end, not the reverse.
        longest_first = sorted(jobs, key=lambda job: job[1], reverse=True)

        def grade_job(job):
            student, lesson, notebook = job
            try:
                return _grade_one(course, grading, student, lesson, notebook, limits, scratch)
            except Exception as error:  # noqa: BLE001 - one submission that breaks the grader costs its row only
                max_points = float(sum(entry["points"] for entry in grading["assignments"][lesson]))
                return Grade(_printable(student.name), lesson, 0.0, max_points, f"not graded: the grader failed "
                             f"({type(error).__name__}: {str(error)[:200]})")

        with ThreadPoolExecutor(max_workers=workers) as pool:
            done = dict(zip(longest_first, pool.map(grade_job, longest_first), strict=True))
    grades = [done[job] for job in jobs]
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with out_csv.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow([field.name for field in dataclasses.fields(Grade)])
        writer.writerows([_spreadsheet_safe(row.student), row.lesson, row.points, row.max_points,
                          _spreadsheet_safe(row.status)] for row in grades)
    return grades


def _cgroup_version() -> int | None:
    if Path("/sys/fs/cgroup/cgroup.controllers").is_file():
        return 2
    if Path("/sys/fs/cgroup/memory").is_dir() and Path("/sys/fs/cgroup/pids").is_dir():
        return 1
    return None


class _Cgroup:
    """A memory and pids cgroup for one submission, made with cgroup-tools and removed by :meth:`remove`."""

    def __init__(self, limits: Limits):
        self.name = f"unet-grade-{uuid.uuid4().hex[:12]}"
        version = _cgroup_version()
        if version is None or shutil.which("cgcreate") is None:
            raise ValueError("grading needs cgroups and Debian's cgroup-tools (cgcreate, cgset, cgexec) to cap each "
                             "submission's memory and processes: install cgroup-tools and run as root")
        memory = "memory.max" if version == 2 else "memory.limit_in_bytes"
        self.folders = [Path("/sys/fs/cgroup") / part / self.name for part in (("",) if version == 2 else
                                                                               ("memory", "pids"))]
        for command in (["cgcreate", "-g", f"memory,pids:{self.name}"],
                        ["cgset", "-r", f"{memory}={limits.memory_mb * 2**20}", "-r",
                         f"pids.max={limits.max_processes}", self.name]):
            made = subprocess.run(command, capture_output=True, text=True)
            if made.returncode != 0:
                self.remove()
                raise ValueError(f"grading could not set up a cgroup ({command[0]}: {made.stderr.strip()[:200]}): "
                                 "it needs root and cgroups with the memory and pids controllers")

    def prefix(self) -> list[str]:
        """Run a command in the cgroup, under a reaper of all it leaves behind (:mod:`course_tools.reaper`)."""
        return [shutil.which("cgexec") or "cgexec", "-g", f"memory,pids:{self.name}", sys.executable, "-I",
                reaper.__file__]

    def _counts(self) -> tuple[set[str], int]:
        """The live processes in the cgroup, and its pids count (the dead not yet reaped included)."""
        live = {pid for folder in self.folders if (folder / "cgroup.procs").is_file()
                for pid in (folder / "cgroup.procs").read_text().split()}
        current = [int((folder / "pids.current").read_text()) for folder in self.folders
                   if (folder / "pids.current").is_file()]
        return live, max(current, default=0)

    def kill(self, spare: int | None = None) -> None:
        """Kill whatever still runs in the cgroup, and wait up to 10 s until it is reaped.

        ``spare`` is the PID of the grader's own child, the submission's :mod:`~course_tools.reaper`:
        left running to reap the rest, and then to be reaped by its ``Popen``.
        """
        for _ in range(200):  # a killed process leaves the pids count only once it is reaped
            live, current = self._counts()
            for pid in live - {str(spare)}:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            if live <= {str(spare)} and current <= (spare is not None):  # the reaper, alive or not yet waited for
                break
            time.sleep(0.05)

    def remove(self) -> None:
        """Kill what is left, then remove the cgroup; one that cannot be removed is named in a warning."""
        self.kill()
        for folder in self.folders:
            error = None
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as raised:  # busy: a process not yet reaped
                    error = raised
                    time.sleep(0.1)
            if folder.exists():
                live, current = self._counts()
                warnings.warn(f"grading could not remove the cgroup {folder} ({error}): {len(live)} live "
                              f"processes, pids count {current}", RuntimeWarning, stacklevel=2)


def add_command(subparsers) -> None:
    """The ``grade`` verb: autograde a folder of submissions with nbgrader, each confined."""
    parser = subparsers.add_parser("grade", help="grade students' notebooks, each in unprivileged sandboxes, points "
                                   "decided outside them; write grades.csv and HTML feedback")
    parser.add_argument("course_dir", help="nbgrader course from `python -m course_tools release COURSE --nbgrader`")
    parser.add_argument("submissions_dir", help="one folder per student holding the lesson notebooks")
    parser.add_argument("--out", default="grades.csv", help="CSV to write (default: grades.csv)")
    parser.add_argument("--timeout", type=float, default=Limits.seconds, help="seconds per notebook")
    parser.add_argument("--cell-timeout", type=int, default=Limits.cell_seconds, help="seconds per cell")
    parser.add_argument("--memory-mb", type=int, default=Limits.memory_mb, help="total memory per notebook")
    parser.add_argument("--max-processes", type=int, default=Limits.max_processes,
                        help="processes and threads per notebook")
    parser.add_argument("--disk-mb", type=int, default=Limits.disk_mb,
                        help="size of the sandbox's writable /tmp and working folder, each")
    parser.add_argument("--output-mb", type=int, default=Limits.output_mb,
                        help="what is kept of what a sandbox hands back")
    parser.add_argument("--workers", type=int, default=1, help="notebooks graded at once (default: 1)")
    parser.set_defaults(handler=_run_grade)


def _run_grade(arguments: argparse.Namespace) -> int:
    try:
        limits = Limits(seconds=arguments.timeout, cell_seconds=arguments.cell_timeout,
                        memory_mb=arguments.memory_mb, max_processes=arguments.max_processes,
                        disk_mb=arguments.disk_mb, output_mb=arguments.output_mb)
        grades = grade(arguments.course_dir, arguments.submissions_dir, arguments.out, limits, arguments.workers)
    except ValueError as error:
        print(f"grade: {error}", file=sys.stderr)
        return 2
    students = {row.student for row in grades}
    print(f"Graded {len(students)} students: {sum(r.points for r in grades):g} of "
          f"{sum(r.max_points for r in grades):g} points in all; wrote {arguments.out}; feedback in "
          f"{Path(arguments.course_dir) / 'feedback'}.")
    return 0
