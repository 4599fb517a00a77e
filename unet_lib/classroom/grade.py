"""Grade a class with nbgrader's autograde, each submission in a sandbox: ``python -m unet_lib grade COURSE DIR``.

``COURSE`` is an nbgrader course folder written by ``python -m unet_lib release COURSE --nbgrader``;
``DIR`` holds one folder per student with the lesson notebooks they hand back
(``DIR/alice/01_transpose_convolution.ipynb``). The grading itself is nbgrader's: its ``autograde``
runs every cell of each notebook, with the locked self-check cells (hidden tests included) restored
from its gradebook, and scores the grade cells; ``generate_feedback`` writes the HTML feedback. What
this module adds is what nbgrader lacks, and only that:

- **confinement**: nbgrader starts each kernel through :mod:`unet_lib.classroom.sandbox_kernel`, in
  `bubblewrap <https://github.com/containers/bubblewrap>`_: a read-only system, the student copy of
  the library, its own notebook folder, no network, no other process, nothing of the course folder
  or of other students;
- **limits**: each submission's autograde runs in a cgroup of its own (Debian's cgroup-tools:
  ``cgcreate``, ``cgset``, ``cgexec``) capping its total memory and its number of processes, and
  under a wall-clock limit; what is left of it afterwards is killed, and reaped by a
  :mod:`~unet_lib.classroom.reaper` of its own, so that no zombie keeps its cgroup from being removed;
- **one row per submission, whatever it does**: every (student, lesson) is graded by its own
  ``nbgrader autograde --student`` call; a crash, a timeout or a broken notebook costs that row
  only, and ``grades.csv`` is always written.

Only the lesson notebooks of a submission are taken, as regular files (a symbolic link or any other
file is ignored), so nothing outside the submission is read on its behalf.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from unet_lib._validate import check_positive_int
from unet_lib.classroom import reaper
from unet_lib.classroom.sandbox_kernel import KERNEL_NAME, write_kernelspec

MAX_NOTEBOOK_BYTES = 50 * 2**20
STUDENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one submission's grading may use.

    Attributes:
        seconds: wall-clock limit of the whole autograde of one notebook.
        cell_seconds: nbgrader's limit per cell (``Execute.timeout``).
        memory_mb: total memory of the submission's processes (its cgroup), nbgrader's included.
        max_processes: processes and threads at once in that cgroup.
    """

    seconds: float = 1800
    cell_seconds: int = 900
    memory_mb: int = 8192
    max_processes: int = 512

    def __post_init__(self):
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, (int, float)) or not self.seconds > 0:
            raise ValueError(f"seconds must be a positive number, got {self.seconds!r}")
        for name in ("cell_seconds", "memory_mb", "max_processes"):
            check_positive_int(name, getattr(self, name))


@dataclasses.dataclass(frozen=True)
class Grade:
    """One row of ``grades.csv``."""

    student: str
    lesson: str
    points: float
    max_points: float
    status: str


def _nbgrader_command(course: Path, *arguments: str) -> list[str]:
    return [sys.executable, "-m", "nbgrader", *arguments, f"--CourseDirectory.root={course}"]


def _environment(jupyter_dir: Path) -> dict[str, str]:
    # nbgrader runs `alembic` (its database migrations) from PATH: this environment's, even if not activated.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return dict(os.environ, PATH=path, JUPYTER_PATH=str(jupyter_dir), TF_CPP_MIN_LOG_LEVEL="3",
                PYTHONWARNINGS="ignore")


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
        """Run a command in the cgroup, under a reaper of all it leaves behind (:mod:`unet_lib.classroom.reaper`)."""
        return ["cgexec", "-g", f"memory,pids:{self.name}", sys.executable, "-I", reaper.__file__]

    def _counts(self) -> tuple[set[str], int]:
        """The live processes in the cgroup, and its pids count (the dead not yet reaped included)."""
        live = {pid for folder in self.folders if (folder / "cgroup.procs").is_file()
                for pid in (folder / "cgroup.procs").read_text().split()}
        current = [int((folder / "pids.current").read_text()) for folder in self.folders
                   if (folder / "pids.current").is_file()]
        return live, max(current, default=0)

    def kill(self, spare: int | None = None) -> None:
        """Kill whatever still runs in the cgroup, and wait up to 10 s until it is reaped.

        ``spare`` is the PID of the grader's own child, the submission's :mod:`~unet_lib.classroom.reaper`:
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


def _regular_notebook(path: Path) -> bool:
    return path.suffix == ".ipynb" and path.is_file() and not path.is_symlink() and \
        path.stat().st_size <= MAX_NOTEBOOK_BYTES


def _submissions(submissions_dir: Path, notebooks: dict[str, str]) -> list[tuple[str, str, Path | None]]:
    """``(student, assignment, notebook or None)`` for every student folder and every assignment."""
    jobs = []
    for folder in sorted(submissions_dir.iterdir()):
        if not folder.is_dir() or folder.is_symlink():
            continue
        if not STUDENT_NAME.match(folder.name):
            raise ValueError(f"submissions_dir must hold one folder per student named with letters, digits, '.', "
                             f"'_' or '-', got {folder.name!r}")
        for assignment, notebook in notebooks.items():
            path = folder / notebook
            jobs.append((folder.name, assignment, path if _regular_notebook(path) else None))
    return jobs


def _autograde_one(course: Path, student: str, assignment: str, notebook: Path, limits: Limits,
                   environment: dict, scratch: Path) -> str:
    """Autograde one notebook in its own cgroup and sandboxed kernel; return its status line."""
    submitted = course / "submitted" / student / assignment
    shutil.rmtree(submitted, ignore_errors=True)
    submitted.mkdir(parents=True)
    shutil.copyfile(notebook, submitted / notebook.name)
    shutil.rmtree(course / "autograded" / student / assignment, ignore_errors=True)
    sockets = Path(tempfile.mkdtemp(prefix="kernel-", dir=scratch))
    command = _nbgrader_command(course, "autograde", assignment, "--student", student, "--force",
                                f"--Execute.kernel_name={KERNEL_NAME}", f"--Execute.timeout={limits.cell_seconds}",
                                "--KernelManager.transport=ipc", f"--KernelManager.ip={sockets / 'kernel'}")
    cgroup = _Cgroup(limits)
    try:
        process = subprocess.Popen(cgroup.prefix() + command, cwd=course, env=environment, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            log, _ = process.communicate(timeout=limits.seconds)
        except subprocess.TimeoutExpired:
            cgroup.kill(spare=process.pid)
            process.wait()
            return f"stopped after {limits.seconds:.0f} s (the time limit of one notebook)"
        if process.returncode != 0:
            if "database is locked" in log:
                return "autograde failed (database is locked)"
            # nbgrader's own last line only says "see the traceback above": name the error it refers to.
            reason = [line.strip() for line in log.splitlines() if re.search(r"Error|Exception|died|[Tt]imeout", line)
                      and "Please see" not in line][-1:] or ["no message"]
            return f"autograde failed ({'killed: out of memory or processes? ' if process.returncode < 0 else ''}" \
                   f"{reason[0][:300]})"
        return "graded"
    finally:
        cgroup.remove()
        shutil.rmtree(sockets, ignore_errors=True)


def generate_assignments(course: Path, assignments, environment: dict | None = None) -> None:
    """Run nbgrader's ``generate_assignment`` for each of ``assignments`` whose release is missing or older
    than its source: what an instructor does before handing a lesson out, and what grading needs."""
    environment = environment or _environment(Path(tempfile.gettempdir()))
    for assignment in assignments:
        notebook = next((course / "source" / assignment).glob("*.ipynb")).name
        released, source = course / "release" / assignment / notebook, course / "source" / assignment / notebook
        if released.is_file() and released.stat().st_mtime >= source.stat().st_mtime:
            continue  # generated from this source already, into this gradebook
        subprocess.run(_nbgrader_command(course, "generate_assignment", assignment, "--force"), cwd=course,
                       env=environment, capture_output=True, text=True, check=True)


FEEDBACK_AND_SCORES = """
import json, sys
from nbgrader.api import Gradebook
from nbgrader.apps.nbgraderapp import NbGraderApp

course, feedback = sys.argv[1], sys.argv[2] == "feedback"
if feedback:  # `nbgrader generate_feedback "*" --force`: every assignment, in this process
    try:
        NbGraderApp.launch_instance(["generate_feedback", "*", "--force", f"--CourseDirectory.root={course}"])
    except (Exception, SystemExit) as error:  # no feedback is no reason to lose the scores
        print(f"generate_feedback failed: {error!r}", file=sys.stderr)
with Gradebook(f"sqlite:///{course}/gradebook.db") as gradebook:
    rows = {}
    for assignment in gradebook.assignments:
        for submission in gradebook.assignment_submissions(assignment.name):
            rows[f"{submission.student_id}/{assignment.name}"] = [submission.score, submission.max_score]
    print(json.dumps({"max": {a.name: a.max_score for a in gradebook.assignments}, "rows": rows}))
"""
"""nbgrader's feedback, then the scores from its Gradebook API, in one process (one start-up, not two) of its
own, so that importing nbgrader stays out of this one."""


def grade(course_dir: str | Path, submissions_dir: str | Path, out_csv: str | Path = "grades.csv",
          limits: Limits = Limits(), workers: int = 1) -> list[Grade]:
    """Grade every student's lessons with nbgrader's autograde, confined; write ``grades.csv`` and the feedback.

    Args:
        course_dir: an nbgrader course from ``python -m unet_lib release COURSE --nbgrader``.
        submissions_dir: ``<student>/<lesson>.ipynb`` for each student.
        out_csv: the CSV to write: student, lesson, points, max_points, status.
        limits: what each notebook's grading may use.
        workers: notebooks graded at once, each in its own cgroup and sandbox.

    Returns:
        The rows written, one per student and lesson (a lesson not handed in scores 0, "not handed in").

    Raises:
        ValueError: if a folder is not what it should be, or bwrap, cgroup-tools or nbgrader is missing.
    """
    course, submissions_dir, out_csv = Path(course_dir).resolve(), Path(submissions_dir).resolve(), Path(out_csv)
    if not (course / "nbgrader_config.py").is_file() or not (course / "source").is_dir():
        raise ValueError(f"course_dir must be an nbgrader course from `release --nbgrader`, got {str(course)!r}")
    workers = check_positive_int("workers", workers)
    if importlib.util.find_spec("nbgrader") is None:
        raise ValueError("grading needs nbgrader: install the course's dev extra (pip install -e \".[dev]\")")
    if not submissions_dir.is_dir():
        raise ValueError(f"submissions_dir must be a folder of student folders, got {str(submissions_dir)!r}")
    for tool in ("bwrap", "cgexec"):
        if shutil.which(tool) is None:
            raise ValueError(f"grading needs {tool} (Debian packages bubblewrap and cgroup-tools)")
    notebooks = {}
    for folder in sorted((course / "source").iterdir()):
        found = sorted(folder.glob("*.ipynb"))
        if len(found) == 1:
            notebooks[folder.name] = found[0].name
    jobs = _submissions(submissions_dir, notebooks)
    _Cgroup(limits).remove()  # cgroups usable here (root, cgroup-tools, the limits accepted), before any grading
    with tempfile.TemporaryDirectory(prefix="unet-grade-") as scratch_name:
        scratch = Path(scratch_name)
        environment = _environment(scratch / "jupyter")
        write_kernelspec(scratch / "jupyter")
        handed_in = sorted({assignment for _, assignment, notebook in jobs if notebook is not None})
        generate_assignments(course, handed_in, environment)
        def grade_job(job):
            student, assignment, notebook = job
            if notebook is None:
                return "not handed in"
            status = _autograde_one(course, student, assignment, notebook, limits, environment, scratch)
            if "database is locked" in status:  # two autogrades wrote the gradebook at once: once more, alone
                with retry_lock:
                    status = _autograde_one(course, student, assignment, notebook, limits, environment, scratch)
            return status

        retry_lock = threading.Lock()
        # The longest lessons (the later ones) first, so that the short ones fill in at the end, not the reverse.
        longest_first = sorted(jobs, key=lambda job: job[1], reverse=True)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            statuses = dict(zip([(student, assignment) for student, assignment, _ in longest_first],
                                pool.map(grade_job, longest_first), strict=True))
        read = subprocess.run([sys.executable, "-c", FEEDBACK_AND_SCORES, str(course),
                               "feedback" if handed_in else "no feedback"], cwd=course, env=environment,
                              capture_output=True, text=True, check=True)
    scores = json.loads(read.stdout.splitlines()[-1])
    grades = []
    for student, assignment, _ in jobs:
        status = statuses[student, assignment]
        score, max_score = scores["rows"].get(f"{student}/{assignment}", [0.0, scores["max"].get(assignment, 0.0)])
        grades.append(Grade(student, assignment, score if status == "graded" else 0.0, max_score, status))
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with out_csv.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow([field.name for field in dataclasses.fields(Grade)])
        writer.writerows(dataclasses.astuple(row) for row in grades)
    return grades


def bench_grading(out_dir: str | Path, lessons_dir: str | Path | None = None, limits: Limits = Limits(),
                  workers: int = 2) -> dict:
    """Grade one whole-course submission (every lesson, solved) as ``grade`` does, and time it.

    The assignments are generated first, untimed: an instructor does that once, before handing them out.

    Args:
        out_dir: a folder to work in (the course, the submission and ``grades.csv`` go there).
        lessons_dir: the solved lessons; default the repository's.
        limits, workers: as for :func:`grade`.

    Returns:
        A JSON-serialisable dictionary: ``workers``, ``seconds`` (the wall time of :func:`grade`), ``points`` and
        ``max_points`` summed over the lessons, ``lessons``, ``statuses``, ``cells_with_errors`` (lesson: the
        indices of the cells that raised under grading; empty when every cell ran), ``cpu`` (the CPU model) and
        ``cores``.
    """
    from unet_lib.bench import cpu_model
    from unet_lib.classroom.release import build_nbgrader_course, default_package_dir

    out_dir = Path(out_dir).resolve()
    lessons_dir = Path(lessons_dir or default_package_dir().parent / "lessons")
    manifest = build_nbgrader_course(out_dir / "course", lessons_dir)
    generate_assignments(out_dir / "course", manifest["nbgrader_assignments"])  # done when the lessons go out
    student = out_dir / "submissions" / "solved"
    student.mkdir(parents=True, exist_ok=True)
    for entry in manifest["nbgrader_assignments"].values():
        shutil.copyfile(lessons_dir / entry["notebook"], student / entry["notebook"])
    started = time.perf_counter()
    grades = grade(out_dir / "course", out_dir / "submissions", out_dir / "grades.csv", limits, workers)
    seconds = time.perf_counter() - started
    # Points count the grade cells only: a lesson that breaks elsewhere under nbgrader shows here.
    failed_cells = {}
    for notebook in sorted((out_dir / "course" / "autograded" / "solved").glob("*/*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        failed = [index for index, cell in enumerate(cells) if any(
            output.get("output_type") == "error" for output in cell.get("outputs", []))]
        if failed:
            failed_cells[notebook.stem] = failed
    return {"benchmark": "grade", "workers": workers, "seconds": round(seconds, 1),
            "points": sum(row.points for row in grades), "max_points": sum(row.max_points for row in grades),
            "lessons": len(grades), "statuses": sorted({row.status for row in grades}),
            "cells_with_errors": failed_cells, "cpu": cpu_model(), "cores": len(os.sched_getaffinity(0))}


def add_benchmark(subparsers) -> None:
    """``bench grade``: the wall time of grading one whole-course submission, printed as one JSON line."""
    parser = subparsers.add_parser("grade", help="grade one solved whole-course submission as `grade` does and "
                                   "print its wall time (the target: 60 s on 2 cores) as JSON")
    parser.add_argument("--out", default=None, help="folder to work in (default: a temporary one)")
    parser.add_argument("--workers", type=int, default=2, help="notebooks graded at once (default: 2)")

    def run(arguments: argparse.Namespace) -> int:
        try:
            if arguments.out:
                print(json.dumps(bench_grading(arguments.out, workers=arguments.workers)))
            else:
                with tempfile.TemporaryDirectory(prefix="unet-bench-grade-") as folder:
                    print(json.dumps(bench_grading(folder, workers=arguments.workers)))
        except ValueError as error:
            print(f"bench grade: {error}", file=sys.stderr)
            return 2
        return 0

    parser.set_defaults(handler=run)


def add_command(subparsers) -> None:
    """The ``grade`` verb: autograde a folder of submissions with nbgrader, each confined."""
    parser = subparsers.add_parser("grade", help="grade students' notebooks with nbgrader's autograde, each in a "
                                   "sandbox; write grades.csv and nbgrader's HTML feedback")
    parser.add_argument("course_dir", help="nbgrader course from `python -m unet_lib release COURSE --nbgrader`")
    parser.add_argument("submissions_dir", help="one folder per student holding the lesson notebooks")
    parser.add_argument("--out", default="grades.csv", help="CSV to write (default: grades.csv)")
    parser.add_argument("--timeout", type=float, default=Limits.seconds, help="seconds per notebook")
    parser.add_argument("--cell-timeout", type=int, default=Limits.cell_seconds, help="seconds per cell")
    parser.add_argument("--memory-mb", type=int, default=Limits.memory_mb, help="total memory per notebook")
    parser.add_argument("--max-processes", type=int, default=Limits.max_processes,
                        help="processes and threads per notebook")
    parser.add_argument("--workers", type=int, default=1, help="notebooks graded at once (default: 1)")
    parser.set_defaults(handler=_run_grade)


def _run_grade(arguments: argparse.Namespace) -> int:
    try:
        limits = Limits(seconds=arguments.timeout, cell_seconds=arguments.cell_timeout,
                        memory_mb=arguments.memory_mb, max_processes=arguments.max_processes)
        grades = grade(arguments.course_dir, arguments.submissions_dir, arguments.out, limits, arguments.workers)
    except ValueError as error:
        print(f"grade: {error}", file=sys.stderr)
        return 2
    students = {row.student for row in grades}
    print(f"Graded {len(students)} students: {sum(r.points for r in grades):g} of "
          f"{sum(r.max_points for r in grades):g} points in all; wrote {arguments.out}; feedback in "
          f"{Path(arguments.course_dir) / 'feedback'}.")
    return 0
