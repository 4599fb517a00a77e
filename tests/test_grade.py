"""``python -m unet_lib grade``: nbgrader's autograde with each kernel in bubblewrap and each submission in a cgroup.

One class of lesson 00 is graded once (a module fixture): honest students, careless ones and one hostile
submission per kind of attack that got through the home-made grader this replaced. The tests then read what
came out: the grades, the files around, the processes left, the connections a host socket saw.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest
from classroom_fixture import REPO_ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("nbgrader") is None, reason="nbgrader (the dev extra) is missing"),
    pytest.mark.skipif(shutil.which("bwrap") is None or shutil.which("cgexec") is None,
                       reason="grading needs Debian's bubblewrap and cgroup-tools (.ci/run installs them)"),
]

LESSON = "00_setup.ipynb"
REFERENCE_ANSWER = "mask = np.asarray(mask)\nreturn (mask[..., None] == np.arange(n_classes)).astype(np.float32)"


def _body(code: str) -> str:
    return "\n".join(f"    {line}" for line in code.splitlines())


def _answer(before: str = "", body: str = REFERENCE_ANSWER) -> str:
    """An answer cell: module-level code ``before`` the function, then ``one_hot`` with ``body``."""
    return f"{before}\ndef one_hot(mask, n_classes):\n{_body(body)}\n"


def _submission(released: dict, answer: str | None = None, extra_cells: list[str] = (), drop_ids: bool = False):
    notebook = json.loads(json.dumps(released))
    cells = notebook["cells"]
    for index, cell in enumerate(cells):
        if cell["metadata"].get("nbgrader", {}).get("solution") and answer is not None:
            cell["source"] = answer
            for offset, extra in enumerate(extra_cells):
                cells.insert(index + offset, {"cell_type": "code", "metadata": {}, "source": extra, "outputs": [],
                                              "execution_count": None, "id": f"added-{offset}"})
            break
    if drop_ids:
        notebook["nbformat_minor"] = 4
        for cell in cells:
            cell.pop("id", None)
    return notebook


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class HostSocket:
    """A Unix socket on the host, by path and abstract name, counting the connections it gets."""

    def __init__(self, path: Path):
        self.connections = 0
        self.servers = []
        for address in (str(path), f"\0unet-grade-test-{os.getpid()}"):
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind(address)
            server.listen(8)
            server.settimeout(0.2)
            self.servers.append(server)
        self.addresses = [str(path), f"\\0unet-grade-test-{os.getpid()}"]
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            for server in self.servers:
                try:
                    connection, _ = server.accept()
                    self.connections += 1
                    connection.close()
                except OSError:
                    pass

    def close(self):
        self.running = False
        self.thread.join()
        for server in self.servers:
            server.close()


def _grading_cgroups() -> list[Path]:
    return [group for hierarchy in ("memory", "pids", "") for group in
            (Path("/sys/fs/cgroup") / hierarchy).glob("unet-grade-*")]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from unet_lib.classroom.grade import Limits, grade
    from unet_lib.classroom.release import build_nbgrader_course

    root = tmp_path_factory.mktemp("grading")
    lessons = root / "lessons"
    lessons.mkdir()
    shutil.copy(REPO_ROOT / "lessons" / LESSON, lessons / LESSON)
    course = root / "course"
    build_nbgrader_course(course, lessons, REPO_ROOT / "unet_lib")
    environment = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "00_setup", "--force",
                    f"--CourseDirectory.root={course}"], cwd=course, env=environment, capture_output=True, check=True)
    released = json.loads((course / "release" / "00_setup" / LESSON).read_text())
    submissions = root / "submissions"
    host = HostSocket(root / "host.sock")
    watched = {  # files a submission must not change
        "grader source": REPO_ROOT / "unet_lib" / "classroom" / "grade.py",
        "instructor's source": course / "source" / "00_setup" / LESSON,
        "classmate's notebook": submissions / "honest" / LESSON,
    }
    out_csv = root / "out" / "grades.csv"
    targets = [str(path) for path in watched.values()] + [str(out_csv), str(course / "gradebook.db")]
    students = {
        "honest": _submission(released, _answer()),
        "blank": released,
        "magics": _submission(released, "%matplotlib inline\n" + _answer()),
        "no_cell_ids": _submission(released, _answer(), drop_ids=True),
        "helper_cell": _submission(released, _answer(body="return encode(mask, n_classes)"), extra_cells=[
            "def encode(mask, n_classes):\n" + _body(REFERENCE_ANSWER) + "\n"]),
        # answers: the visible cases of the student copy, the instructor's package, the instructor's and
        # classmates' files
        "lookup_table": _submission(released, _answer(
            "from unet_lib.checks.masks import one_hot_cases",
            "for case in one_hot_cases():\n"
            "    if np.array_equal(case.args[0], mask) and case.args[1] == n_classes:\n"
            "        return case.expected\n"
            "return np.zeros(np.shape(mask) + (n_classes,), dtype=np.float32)")),
        "instructor_package": _submission(released, _answer(body=(
            "import importlib.util\n"
            f"spec = importlib.util.spec_from_file_location('ref', {str(REPO_ROOT / 'unet_lib' / 'masks.py')!r})\n"
            "module = importlib.util.module_from_spec(spec)\n"
            "spec.loader.exec_module(module)\n"
            "return module.one_hot(mask, n_classes)"))),
        "reads_solutions": _submission(released, _answer(
            "import json",
            "for path in " + json.dumps([str(REPO_ROOT / "lessons" / LESSON),
                                         str(course / "source" / "00_setup" / LESSON),
                                         str(submissions / "honest" / LESSON)]) + ":\n"
            "    try:\n"
            "        cells = json.load(open(path))['cells']\n"
            "    except OSError:\n"
            "        continue\n"
            "    found = {}\n"
            "    for cell in cells:\n"
            "        if 'def one_hot' in ''.join(cell['source']):\n"
            "            exec(''.join(cell['source']), found)\n"
            "            return found['one_hot'](mask, n_classes)\n"
            "return np.zeros(np.shape(mask) + (n_classes,), dtype=np.float32)")),
        # harm: writes outside its folder, processes that outlive it, all the memory, the host's sockets
        "writes_outside": _submission(released, _answer(
            "for target in " + json.dumps(targets) + ":\n"
            "    try:\n"
            "        open(target, 'a').write('tampered')\n"
            "    except OSError:\n"
            "        pass\n")),
        "daemon": _submission(released, _answer(
            "import os, subprocess, sys, time\n"
            "daemon = 'import os, time\\nos.setsid()\\nwhile True:\\n    time.sleep(0.1)  # unet-grade-test-daemon'\n"
            "subprocess.Popen([sys.executable, '-c', daemon], start_new_session=True)\n"
            "for _ in range(3):\n"
            "    if os.fork() == 0:\n"
            "        os.setsid()\n"
            "        time.sleep(3600)\n")),
        "memory": _submission(released, _answer(
            "import multiprocessing, os\n"
            "def hog(index):\n"
            "    block = bytearray(900 * 2**20)\n"
            "    block[::4096] = b'x' * len(block[::4096])\n"
            "    open(f'allocated-{index}', 'w').write('900 MB')\n"
            "    __import__('time').sleep(20)\n"
            "workers = [multiprocessing.Process(target=hog, args=(i,)) for i in range(3)]\n"
            "[worker.start() for worker in workers]\n"
            "[worker.join() for worker in workers]\n")),
        "sockets": _submission(released, _answer(
            "import socket\n"
            "for address in " + json.dumps(host.addresses) + ":\n"
            "    try:\n"
            "        client = socket.socket(socket.AF_UNIX)\n"
            "        client.connect(address.replace('\\\\0', '\\0'))\n"
            "        print('CONNECTED', address)\n"
            "    except OSError as error:\n"
            "        print('refused', address, error)\n")),
        # one student stops everyone: kill every process in sight, a notebook that is not a notebook
        "aa_kills_everything": _submission(released, _answer(
            "import os, signal\n"
            "for pid in [int(p) for p in os.listdir('/proc') if p.isdigit()] + [os.getppid()]:\n"
            "    if pid != os.getpid():\n"
            "        try:\n"
            "            os.kill(pid, signal.SIGKILL)\n"
            "        except OSError:\n"
            "            pass\n")),
        "not_a_notebook": "{ this is not JSON",
        "deep_json": "[" * 100_000 + "]" * 100_000,
    }
    for student, notebook in students.items():
        folder = submissions / student
        folder.mkdir(parents=True)
        text = notebook if isinstance(notebook, str) else json.dumps(notebook)
        (folder / LESSON).write_text(text)
    linked = submissions / "symlink"
    linked.mkdir()
    (linked / LESSON).symlink_to(REPO_ROOT / "lessons" / LESSON)  # the instructor's solved lesson
    before = {name: _sha(path) for name, path in watched.items()}
    cgroups_before = set(_grading_cgroups())
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            grades = grade(course, submissions, out_csv, Limits(seconds=300, cell_seconds=120, memory_mb=2048,
                                                                max_processes=256))
    finally:
        host.close()
    for warning in caught:  # shown in pytest's summary: the cgroups a kernel would not let go, and why
        warnings.warn(warning.message, stacklevel=1)
    rows = {row["student"]: row for row in csv.DictReader(out_csv.open())}
    return {"grades": grades, "rows": rows, "course": course, "watched": watched, "before": before,
            "host": host, "out_csv": out_csv, "warnings": [str(warning.message) for warning in caught],
            "cgroups before": cgroups_before}


def _points(graded, student) -> float:
    return float(graded["rows"][student]["points"])


def test_honest_students_get_full_points_with_magics_without_cell_ids_and_with_helper_cells(graded):
    for student in ("honest", "magics", "no_cell_ids", "helper_cell"):
        assert _points(graded, student) == 1.0, graded["rows"][student]
    assert _points(graded, "blank") == 0.0 and graded["rows"]["blank"]["status"] == "graded"


def test_answers_from_the_visible_cases_the_instructor_or_classmates_get_nothing(graded):
    for student in ("lookup_table", "instructor_package", "reads_solutions"):
        assert _points(graded, student) == 0.0, graded["rows"][student]
    assert graded["rows"]["symlink"]["status"] == "not handed in" and _points(graded, "symlink") == 0.0


def test_a_submission_changes_no_file_outside_its_folder(graded):
    after = {name: _sha(path) for name, path in graded["watched"].items()}
    assert after == graded["before"]
    assert "tampered" not in graded["out_csv"].read_text()
    assert _points(graded, "writes_outside") == 1.0  # its answer is right; its writes went nowhere


def test_nothing_a_submission_starts_outlives_its_grading(graded):
    processes = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert "unet-grade-test-daemon" not in processes
    assert str(graded["course"]) not in processes  # no kernel left, no nbgrader left
    kernels = [line for line in processes.splitlines() if "ipykernel_launcher" in line and "unet-course" in line]
    assert kernels == []
    # Every submission's cgroup is removed after its grading; one that the kernel keeps must hold no process,
    # not even a dead one left unreaped (its pids count), and be named in a warning.
    leftover = set(_grading_cgroups()) - graded["cgroups before"]
    for group in leftover:
        assert (group / "cgroup.procs").read_text().split() == [], group
        if (group / "pids.current").is_file():
            assert int((group / "pids.current").read_text()) == 0, group
        assert any(str(group) in warning for warning in graded["warnings"]), (group, graded["warnings"])


def test_memory_is_capped_for_all_of_a_submissions_processes_together(graded):
    folder = graded["course"] / "autograded" / "memory" / "00_setup"
    row = graded["rows"]["memory"]
    # Its kernel survives with the workers killed (graded), or is killed itself: said so in its row.
    assert row["status"] == "graded" or re.search("killed|died|out of memory", row["status"]), row
    assert folder.is_dir() or row["status"] != "graded", row
    allocated = list(folder.glob("allocated-*")) if folder.is_dir() else []
    assert len(allocated) < 3, "three 900 MB processes ran side by side under a 2048 MB cap"


def test_no_connection_reaches_a_unix_socket_of_the_host(graded):
    assert graded["host"].connections == 0


def test_one_submission_stops_no_other_and_every_row_is_written(graded):
    rows = graded["rows"]
    assert set(rows) >= {"aa_kills_everything", "honest", "not_a_notebook", "deep_json", "symlink"}
    for student in ("not_a_notebook", "deep_json"):
        assert _points(graded, student) == 0.0 and rows[student]["status"] != "graded", rows[student]
    # The student graded first tried to kill every process it could see; the ones after it were graded.
    assert _points(graded, "honest") == 1.0
    feedback = graded["course"] / "feedback" / "honest" / "00_setup" / "00_setup.html"
    assert "Score: 1.0 / 1.0" in feedback.read_text()


def test_a_killed_submissions_orphans_are_reaped_and_its_cgroup_removed():
    # What a killed kernel leaves: a process whose parent died (given to the nearest "child subreaper", else to
    # PID 1, which in a container may never reap it), killed while an orphan. Nothing of it may stay.
    from unet_lib.classroom.grade import Limits, _Cgroup

    orphan_maker = ("import os, sys, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(600)\n"
                    "print('started', flush=True)\ntime.sleep(600)\n")
    cgroup = _Cgroup(Limits(memory_mb=256, max_processes=16))
    process = subprocess.Popen(cgroup.prefix() + [sys.executable, "-c", orphan_maker], stdout=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout.readline() == "started\n"
        tree = {pid for folder in cgroup.folders for pid in (folder / "cgroup.procs").read_text().split()}
        assert len(tree) == 3 and str(process.pid) in tree  # the reaper, the command and its child
        cgroup.kill(spare=process.pid)  # the command dies first: its child is an orphan, then killed
        assert process.wait(timeout=10) == -9  # the reaper ends as the command did
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a cgroup that is not removed warns
            cgroup.remove()
    assert not any(Path(f"/proc/{pid}").exists() for pid in tree)  # killed and reaped: not even a zombie
    assert not any(folder.exists() for folder in cgroup.folders)


def test_the_reaper_ends_what_its_command_left_running_and_exits_with_its_code():
    from unet_lib.classroom import reaper

    leaves_a_sleeper = ("import subprocess, sys\nchild = subprocess.Popen(['sleep', '600'])\n"
                        "print(child.pid, flush=True)\nsys.exit(3)\n")
    process = subprocess.run([sys.executable, "-I", reaper.__file__, sys.executable, "-c", leaves_a_sleeper],
                             capture_output=True, text=True, timeout=30)
    assert process.returncode == 3, process.stderr
    assert not Path(f"/proc/{process.stdout.split()[0]}").exists()


@pytest.mark.parametrize("field, value", [("seconds", 0), ("seconds", -1.0), ("cell_seconds", 0), ("memory_mb", -5),
                                          ("max_processes", 1.5), ("memory_mb", True)])
def test_limits_that_would_stop_every_notebook_are_refused(field, value):
    from unet_lib.classroom.grade import Limits

    with pytest.raises(ValueError, match=field):
        Limits(**{field: value})
