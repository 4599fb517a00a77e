"""``python -m course_tools grade``: student code unprivileged in sandboxes, points decided outside them.

One class of lessons 00 and 01 is graded once (a module fixture): honest students, careless ones and one
hostile submission per kind of attack, those that got through the nbgrader-based grader this replaced
(issue 22: root in the sandbox, the grader's environment, links nbgrader followed, points forged in the
kernel, the library-call rule switched off, a slow cell, disk, odd folder names, debug prints) and those it
held. The tests then read what came out, from the host: the grades, the files around and their hashes,
the feedback folder, what a probe saw from inside the sandbox, the processes left, a host socket.
"""

from __future__ import annotations

import csv
import hashlib
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
    pytest.mark.extended,
    pytest.mark.skipif(shutil.which("bwrap") is None or shutil.which("cgexec") is None,
                       reason="grading needs Debian's bubblewrap and cgroup-tools (.ci/run installs them)"),
]

LESSON = "00_setup.ipynb"
LESSON_01 = "01_transpose_convolution.ipynb"
REFERENCE_ANSWER = "mask = np.asarray(mask)\nreturn (mask[..., None] == np.arange(n_classes)).astype(np.float32)"


def _body(code: str) -> str:
    return "\n".join(f"    {line}" for line in code.splitlines())


def _answer(before: str = "", body: str = REFERENCE_ANSWER) -> str:
    """An answer cell: module-level code ``before`` the function, then ``one_hot`` with ``body``."""
    return f"{before}\ndef one_hot(mask, n_classes):\n{_body(body)}\n"


def _submission(released: dict, answer: str | None = None, extra_cells: list[str] = (), drop_ids: bool = False,
                function: str = "one_hot"):
    """``released`` with the answer cell of ``function`` replaced by ``answer``, ``extra_cells`` before it."""
    notebook = json.loads(json.dumps(released))
    cells = notebook["cells"]
    for index, cell in enumerate(cells):
        if cell["metadata"].get("nbgrader", {}).get("solution") and answer is not None and \
                f"def {function}(" in "".join(cell["source"]):
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


SANDBOX_VARIABLES = {"LANG", "KERAS_BACKEND", "OMP_NUM_THREADS", "TF_CPP_MIN_LOG_LEVEL", "PYTHONWARNINGS", "TERM"}
"""Variables the sandbox's kernel may share with the grader, value included: the sandbox sets all but the last
itself (the course's own settings); ipykernel sets TERM."""
PROBE = r'''
import json, os, subprocess
probe = {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups()}
probe["uid_map"] = open("/proc/self/uid_map").read().split()
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
probe.update({name: status[name].strip() for name in ("CapEff", "CapPrm", "CapBnd", "CapAmb", "NoNewPrivs")})
try:
    open("/proc/sys/kernel/core_pattern", "w").close()
    probe["core_pattern_writable"] = True
except OSError:
    probe["core_pattern_writable"] = False
probe["remount_exit_code"] = subprocess.run(["mount", "-o", "remount,bind,rw", "/etc"], capture_output=True).returncode
seen = b""
for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
    for part in ("environ", "cmdline"):
        try:
            seen += open(f"/proc/{pid}/{part}", "rb").read() + b"\n"
        except OSError:
            pass
probe["seen_in_proc"] = seen.decode("utf-8", "replace")
probe["environment"] = dict(os.environ)
probe["mounts"] = [line.split()[4] + " " + line.split()[5] for line in open("/proc/self/mountinfo")]
print("PROBE" + json.dumps(probe))
'''


def _blank(notebook: dict) -> dict:
    """The student copy of a solved lesson: solutions stubbed (what students are handed)."""
    from course_tools.exercises import strip_solutions

    blank = json.loads(json.dumps(notebook))
    for cell in blank["cells"]:
        cell["source"] = strip_solutions("".join(cell["source"]))
    return blank


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from course_tools.grade import Limits, grade
    from course_tools.release import build_nbgrader_course

    root = tmp_path_factory.mktemp("grading")
    lessons = root / "lessons"
    lessons.mkdir()
    for lesson in (LESSON, LESSON_01):
        shutil.copy(REPO_ROOT / "lessons" / lesson, lessons / lesson)
    course = root / "course"
    build_nbgrader_course(course, lessons, REPO_ROOT / "unet_lib")
    (course / "gradebook.db").write_text("the instructor's gradebook")
    released = _blank(json.loads((course / "source" / "00_setup" / LESSON).read_text()))
    submissions = root / "submissions"
    host = HostSocket(root / "host.sock")
    private = root / "private.txt"  # a host file only root may read
    private.write_text("the instructor's private notes")
    private.chmod(0o600)
    watched = {  # files a submission must not change
        "grader source": REPO_ROOT / "tools" / "course_tools" / "grade.py",
        "instructor's source": course / "source" / "00_setup" / LESSON,
        "classmate's notebook": submissions / "honest" / LESSON,
        "gradebook": course / "gradebook.db",
        "grading record": course / "grading.json",
        "private file": private,
    }
    out_csv = root / "out" / "grades.csv"
    targets = [str(path) for path in watched.values()] + [str(out_csv)]
    wrong = "return np.zeros(np.shape(mask) + (n_classes,), dtype=np.float32)"
    students = {
        "honest": _submission(released, _answer()),
        "blank": released,
        "magics": _submission(released, "%matplotlib inline\n" + _answer()),
        "no_cell_ids": _submission(released, _answer(), drop_ids=True),
        "helper_cell": _submission(released, _answer(body="return encode(mask, n_classes)"), extra_cells=[
            "def encode(mask, n_classes):\n" + _body(REFERENCE_ANSWER) + "\n"]),
        # 9: debug prints, to stdout and stderr, in the answer and around it
        "debug_prints": _submission(released, _answer(
            "import sys\nprint('debugging', file=sys.stderr)",
            "print('mask', np.shape(mask), file=sys.stderr)\nprint('classes', n_classes)\n" + REFERENCE_ANSWER)),
        # 6: a slow cell the answer does not need, and one that fills the output
        "slow_cell": _submission(released, _answer(), extra_cells=["import time\ntime.sleep(600)"]),
        # answers: the visible cases of the student copy, the instructor's package, the instructor's and
        # classmates' files
        "lookup_table": _submission(released, _answer(
            "from unet_lib.checks.masks import one_hot_cases",
            "for case in one_hot_cases():\n"
            "    if np.array_equal(case.args[0], mask) and case.args[1] == n_classes:\n"
            "        return case.expected\n" + wrong)),
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
            "            return found['one_hot'](mask, n_classes)\n" + wrong)),
        # 1, 2: what the sandbox lets the student's code see and do, read from inside
        "probe": _submission(released, _answer(PROBE)),
        # 3: links and writes where the grader reads and writes
        "links_itself": _submission(released, _answer(
            "import os\n"
            "for name, target in [('.l', '../../../gradebook.db'), ('.m', " + json.dumps(str(private)) + ")]:\n"
            "    try:\n"
            "        os.symlink(target, name)\n"
            "        os.replace(name, " + json.dumps(LESSON) + " if name == '.l' else 'notes.txt')\n"
            "    except OSError as error:\n"
            "        print('refused', error)\n")),
        "writes_outside": _submission(released, _answer(
            "for target in " + json.dumps(targets) + ":\n"
            "    try:\n"
            "        open(target, 'a').write('tampered')\n"
            "    except OSError:\n"
            "        pass\n")),
        # 4: forging the points from inside, each with a wrong answer
        "forge_equal_to_anything": _submission(released, _answer(
            "class Anything(np.ndarray):\n"
            "    def __eq__(self, other):\n"
            "        return True\n"
            "    def __array__(self, *args, **kwargs):\n"
            "        import sys\n"
            "        frame = sys._getframe(1)\n"
            "        while frame is not None:\n"
            "            for value in frame.f_locals.values():\n"
            "                if isinstance(value, np.ndarray) and value.dtype == np.float32:\n"
            "                    return value\n"
            "            frame = frame.f_back\n"
            "        return np.zeros(1)\n",
            "return Anything(np.shape(mask) + (n_classes,))")),
        "forge_rebinds_checks": _submission(released, _answer(
            "import numpy.testing, unet_lib.checks.core as core, unet_lib.checks.masks as masks\n"
            "numpy.testing.assert_array_equal = lambda *args, **kwargs: None\n"
            "core.describe_difference = lambda *args, **kwargs: None\n"
            "masks.check_one_hot = check_one_hot = lambda function: print('all cases match')\n"
            "check_one_hot.__code__ = (lambda function: None).__code__\n", wrong)),
        "forge_transformers": _submission(released, _answer(
            "ip = get_ipython()\n"
            "ip.input_transformers_post.append(lambda lines: ['pass\\n'])\n"
            "ip.events.register('pre_run_cell', lambda *args: ip.display_pub.publish({'text/plain': \"'ok'\"}))\n",
            wrong)),
        "forge_tracing": _submission(released, _answer(
            "import sys\n"
            "def rewrite(frame, event, arg):\n"
            "    for name, value in list(frame.f_locals.items()):\n"
            "        if isinstance(value, np.ndarray):\n"
            "            frame.f_locals[name] = np.ones_like(value)\n"
            "    return rewrite\n"
            "sys.settrace(rewrite)\nsys.setprofile(rewrite)\n", wrong)),
        # 7: disk and output: 1 GB written, 100 MB printed
        "fills_disk": _submission(released, _answer(
            "import os\n"
            "try:\n"
            "    with open('big.bin', 'wb') as big:\n"
            "        for _ in range(1024):\n"
            "            big.write(os.urandom(2**20))\n"
            "except OSError as error:\n"
            "    print('stopped:', error.strerror)\n"
            "print('x' * 100 * 2**20)\n")),
        # harm: processes that outlive it, all the memory, the host's sockets
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
            "    print(f'allocated-{index}', flush=True)\n"
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
        # 8: folder names a shell or a spreadsheet would read as code
        "O'Brien Smith": _submission(released, _answer()),
        "$(id)": _submission(released, _answer()),
        "=1+2": _submission(released, _answer()),
    }
    for student, notebook in students.items():
        folder = submissions / student
        folder.mkdir(parents=True)
        text = notebook if isinstance(notebook, str) else json.dumps(notebook)
        (folder / LESSON).write_text(text)
    # 3: links planted beside the notebook; the instructor's solved lesson handed in as a link
    for name, target in [("gradebook.db", course / "gradebook.db"), ("private.txt", private)]:
        (submissions / "links_itself" / name).symlink_to(target)
    linked = submissions / "symlink"
    linked.mkdir()
    (linked / LESSON).symlink_to(REPO_ROOT / "lessons" / LESSON)
    # 5: lesson 01's loop exercise answered by the library's vectorised version, its profiler switched off
    solved_01 = json.loads((REPO_ROOT / "lessons" / LESSON_01).read_text())
    calls_the_library = _body("import sys\nsys.setprofile(None)\n"
                              "from unet_lib.reference.convolution import conv_transpose2d\n"
                              "return conv_transpose2d(x, kernel, stride, padding, output_padding)")
    for student, notebook in [("honest", solved_01), ("calls_the_library", _submission(
            solved_01, f"def conv_transpose2d_naive(x, kernel, stride=1, padding=0, output_padding=None):\n"
            f"{calls_the_library}\n", function="conv_transpose2d_naive"))]:
        (submissions / student).mkdir(exist_ok=True)
        (submissions / student / LESSON_01).write_text(json.dumps(notebook))
    before = {name: _sha(path) for name, path in watched.items()}
    cgroups_before = set(_grading_cgroups())
    secret = f"secret-{os.urandom(8).hex()}"
    os.environ["UNET_GRADER_SECRET"] = secret  # in the grader's environment, as an instructor's token would be
    # What the instructor's shell handed the grader (this process) when it started; what libraries set since
    # (TensorFlow sets TF2_BEHAVIOR and the like, in the kernel too) is not the grader's.
    grader_environment = dict(entry.split("=", 1) for entry in Path("/proc/self/environ").read_text(
        errors="replace").split("\0") if "=" in entry)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            grades = grade(course, submissions, out_csv, Limits(seconds=240, cell_seconds=20, memory_mb=2048,
                                                                max_processes=256, disk_mb=256, output_mb=8),
                           workers=2)
    finally:
        host.close()
        del os.environ["UNET_GRADER_SECRET"]
    for warning in caught:  # shown in pytest's summary: the cgroups a kernel would not let go, and why
        warnings.warn(warning.message, stacklevel=1)
    rows = {(row["student"], row["lesson"]): row for row in csv.DictReader(out_csv.open())}
    return {"grades": grades, "rows": rows, "course": course, "watched": watched, "before": before,
            "host": host, "out_csv": out_csv, "warnings": [str(warning.message) for warning in caught],
            "cgroups before": cgroups_before, "secret": secret, "private": private,
            "grader environment": grader_environment}


def _row(graded, student, lesson="00_setup") -> dict:
    return graded["rows"][student, lesson]


def _points(graded, student, lesson="00_setup") -> float:
    return float(_row(graded, student, lesson)["points"])


def _declared_points(lesson: str, leaving_out: tuple[str, ...] = ()) -> float:
    """The points of the exercises graded in ``lesson`` (a stem), from their declarations, less ``leaving_out``'s."""
    from course_tools.exercises import discover_exercises

    return float(sum(exercise.points for name, exercise in discover_exercises(REPO_ROOT / "unet_lib").items()
                     if exercise.lessons == (lesson,) and name not in leaving_out))


def _outputs(graded, student) -> str:
    """Everything the notebook's run printed, from the notebook the grader kept in autograded/."""
    path = graded["course"] / "autograded" / student / "00_setup" / LESSON
    cells = json.loads(path.read_text())["cells"]
    return "".join("".join(output["text"]) for cell in cells for output in cell.get("outputs", [])
                   if output["output_type"] == "stream")


def test_honest_students_get_full_points_with_magics_no_cell_ids_helper_cells_and_debug_prints(graded):
    for student in ("honest", "magics", "no_cell_ids", "helper_cell", "debug_prints"):
        assert _points(graded, student) == 1.0 and _row(graded, student)["status"] == "graded", _row(graded, student)
    assert _points(graded, "blank") == 0.0 and _row(graded, "blank")["status"] == "graded"
    assert _points(graded, "honest", "01_transpose_convolution") == _declared_points("01_transpose_convolution"), \
        _row(graded, "honest", "01_transpose_convolution")


def test_a_slow_cell_the_answer_does_not_need_costs_that_cell_only(graded):
    assert _points(graded, "slow_cell") == 1.0, _row(graded, "slow_cell")
    cells = json.loads((graded["course"] / "autograded" / "slow_cell" / "00_setup" / LESSON).read_text())["cells"]
    slow = next(index for index, cell in enumerate(cells) if "time.sleep(600)" in "".join(cell["source"]))
    assert any(output.get("output_type") == "error" for output in cells[slow]["outputs"])  # interrupted
    assert any(cell.get("outputs") for cell in cells[slow + 1:])  # and the cells after it ran


def test_answers_from_the_visible_cases_the_instructor_classmates_or_the_library_get_nothing(graded):
    for student in ("lookup_table", "instructor_package", "reads_solutions"):
        assert _points(graded, student) == 0.0, _row(graded, student)
    assert _row(graded, "symlink")["status"] == "not graded: the notebook is not read (a link)"
    row = _row(graded, "calls_the_library", "01_transpose_convolution")
    # Its other answers are the solved lesson's; its loop, which calls the library, scores 0.
    assert float(row["points"]) == _declared_points("01_transpose_convolution", ("conv_transpose2d_naive",)), row
    feedback = graded["course"] / "feedback" / "calls_the_library" / "01_transpose_convolution"
    assert "not available while grading" in (feedback / "01_transpose_convolution.html").read_text()


def test_wrong_answers_get_nothing_however_the_kernel_forges_its_checks(graded):
    for student in ("forge_equal_to_anything", "forge_rebinds_checks", "forge_transformers", "forge_tracing"):
        assert _points(graded, student) == 0.0, _row(graded, student)


def test_the_students_code_runs_as_nobody_with_no_capability_and_sees_nothing_of_the_grader(graded):
    found = [line for line in _outputs(graded, "probe").splitlines() if line.startswith("PROBE")]
    assert found, _outputs(graded, "probe")[:2000]
    probe = json.loads(found[0][len("PROBE"):])
    # Not root on the host: no user namespace, so the uid inside is the host's (uid_map maps everything to itself).
    assert probe["uid_map"] == ["0", "0", "4294967295"] and probe["uid"] == 65534 and probe["gid"] == 65534
    assert probe["groups"] in ([], [65534])
    assert {probe[name] for name in ("CapEff", "CapPrm", "CapBnd", "CapAmb")} == {"0000000000000000"}
    assert probe["NoNewPrivs"] == "1"
    assert probe["core_pattern_writable"] is False and probe["remount_exit_code"] != 0
    # Nothing of the grader: its environment, its secrets, its command line, the course's paths.
    assert graded["secret"] not in probe["seen_in_proc"] + json.dumps(probe["environment"])
    assert str(graded["course"]) not in probe["seen_in_proc"] and "UNET_GRADER" not in probe["seen_in_proc"]
    leaked = [name for name, value in probe["environment"].items()
              if graded["grader environment"].get(name) == value and name not in SANDBOX_VARIABLES]
    assert leaked == [], leaked
    # Every mount is read-only but its private /tmp, /dev/shm and working folder, /proc, and the device nodes.
    writable = {mount.split()[0] for mount in probe["mounts"] if "rw" in mount.split()[1].split(",")}
    devices = {"/dev", "/dev/pts", "/dev/mqueue", "/dev/null", "/dev/zero", "/dev/full", "/dev/random",
               "/dev/urandom", "/dev/tty"}
    assert writable <= {"/tmp", "/sandbox", "/dev/shm", "/proc", *devices}, writable
    assert not any(str(graded["course"]) in mount for mount in probe["mounts"])


def test_a_submission_changes_no_file_outside_its_sandbox_and_its_links_are_not_followed(graded):
    after = {name: _sha(path) for name, path in graded["watched"].items()}
    assert after == graded["before"]
    assert "tampered" not in graded["out_csv"].read_text()
    assert oct(graded["private"].stat().st_mode & 0o777) == "0o600"
    assert _points(graded, "writes_outside") == 1.0 and _points(graded, "links_itself") == 1.0
    # The feedback holds what the grader wrote, and nothing a submission planted or linked.
    for student in ("links_itself", "honest", "writes_outside"):
        folder = graded["course"] / "feedback" / student / "00_setup"
        assert sorted(path.name for path in folder.iterdir()) == ["00_setup.html"]
        assert not (folder / "00_setup.html").is_symlink()
    assert "private notes" not in (graded["course"] / "feedback" / "links_itself" / "00_setup" /
                                   "00_setup.html").read_text()


def test_disk_and_output_are_capped(graded):
    assert _points(graded, "fills_disk") == 1.0, _row(graded, "fills_disk")
    outputs = _outputs(graded, "fills_disk")
    assert "No space left on device" in outputs
    kept = sum(path.stat().st_size for folder in ("autograded", "feedback")
               for path in (graded["course"] / folder / "fills_disk").rglob("*") if path.is_file())
    assert kept < 16 * 2**20, kept  # the 100 MB printed is not kept, twice or once


def test_odd_folder_names_are_graded_in_their_own_rows_and_start_no_spreadsheet_formula(graded):
    for student in ("O'Brien Smith", "$(id)", "'=1+2"):
        assert _points(graded, student) == 1.0, _row(graded, student)
    text = graded["out_csv"].read_text()
    assert "\n'=1+2," in text and "\n=1+2" not in text


def test_nothing_a_submission_starts_outlives_its_grading(graded):
    # A submission's processes run as nobody: other jobs' kernels on this machine (a test run beside this one)
    # are not its own. ps exits 1 when it finds none.
    processes = subprocess.run(["ps", "-u", "65534", "-o", "args="], capture_output=True, text=True, check=False).stdout
    assert "unet-grade-test-daemon" not in processes
    assert "ipykernel_launcher" not in processes and "harness.py" not in processes
    # Every submission's cgroup is removed after its grading; one that the kernel keeps must hold no process,
    # not even a dead one left unreaped (its pids count), and be named in a warning.
    leftover = set(_grading_cgroups()) - graded["cgroups before"]
    for group in leftover:
        assert (group / "cgroup.procs").read_text().split() == [], group
        if (group / "pids.current").is_file():
            assert int((group / "pids.current").read_text()) == 0, group
        assert any(str(group) in warning for warning in graded["warnings"]), (group, graded["warnings"])


def test_memory_is_capped_for_all_of_a_submissions_processes_together(graded):
    row = _row(graded, "memory")
    assert row["status"].startswith("graded"), row
    path = graded["course"] / "autograded" / "memory" / "00_setup" / LESSON
    allocated = set(re.findall(r"allocated-\d", _outputs(graded, "memory"))) if path.is_file() else set()
    assert len(allocated) < 3, "three 900 MB processes ran side by side under a 2048 MB cap"


def test_no_connection_reaches_a_unix_socket_of_the_host(graded):
    assert graded["host"].connections == 0


def test_one_submission_stops_no_other_and_every_row_is_written(graded):
    rows = graded["rows"]
    students = {student for student, _ in rows}
    assert students >= {"aa_kills_everything", "honest", "not_a_notebook", "deep_json", "symlink"}
    assert len(rows) == 2 * len(students)  # every student, every lesson
    assert _row(graded, "not_a_notebook")["status"] == "not graded: the notebook is not JSON"
    assert _row(graded, "deep_json")["status"] == "not graded: the notebook is not JSON"
    assert _row(graded, "blank", "01_transpose_convolution")["status"] == "not handed in"
    # The student graded first tried to kill every process it could see; the ones after it were graded.
    assert _points(graded, "honest") == 1.0
    feedback = (graded["course"] / "feedback" / "honest" / "00_setup" / "00_setup.html").read_text()
    # It answered one_hot, not lesson 00's prediction question.
    assert f"Score: 1 / {_declared_points('00_setup'):g}" in feedback and "<script" not in feedback


def test_a_keras_lesson_given_an_earlier_lessons_answers_gets_its_points_solved_and_none_blank(tmp_path):
    """Lesson 04: its answers import Keras from unet_lib (real in the sandbox, not a stand-in) and lesson 03's
    decoder step from the my_unet.py the course gives it; the class above (lessons 00 and 01) has neither."""
    from course_tools.grade import Limits, grade
    from course_tools.release import build_nbgrader_course

    lessons = tmp_path / "lessons"
    lessons.mkdir()
    for lesson in ("03_skip_connections.ipynb", "04_unet.ipynb"):
        shutil.copy(REPO_ROOT / "lessons" / lesson, lessons / lesson)
    build_nbgrader_course(tmp_path / "course", lessons, REPO_ROOT / "unet_lib")
    solved = json.loads((tmp_path / "course" / "source" / "04_unet" / "04_unet.ipynb").read_text())
    for student, notebook in (("solved", solved), ("blank", _blank(solved))):
        (tmp_path / "submissions" / student).mkdir(parents=True)
        (tmp_path / "submissions" / student / "04_unet.ipynb").write_text(json.dumps(notebook))
    rows = {(row.student, row.lesson): row for row in grade(tmp_path / "course", tmp_path / "submissions",
                                                             tmp_path / "grades.csv", Limits(), workers=2)}
    solved_row = rows["solved", "04_unet"]
    assert (solved_row.points, solved_row.max_points) == (_declared_points("04_unet"),) * 2, solved_row
    assert rows["blank", "04_unet"].points == 0.0
    feedback = (tmp_path / "course" / "feedback" / "blank" / "04_unet" / "04_unet.html").read_text()
    assert "not written yet" in feedback


def test_a_killed_submissions_orphans_are_reaped_and_its_cgroup_removed():
    # What a killed kernel leaves: a process whose parent died (given to the nearest "child subreaper", else to
    # PID 1, which in a container may never reap it), killed while an orphan. Nothing of it may stay.
    from course_tools.grade import Limits, _Cgroup

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
    from course_tools import reaper

    leaves_a_sleeper = ("import subprocess, sys\nchild = subprocess.Popen(['sleep', '600'])\n"
                        "print(child.pid, flush=True)\nsys.exit(3)\n")
    process = subprocess.run([sys.executable, "-I", reaper.__file__, sys.executable, "-c", leaves_a_sleeper],
                             capture_output=True, text=True, timeout=30)
    assert process.returncode == 3, process.stderr
    assert not Path(f"/proc/{process.stdout.split()[0]}").exists()


@pytest.mark.parametrize("field, value", [("seconds", 0), ("seconds", -1.0), ("cell_seconds", 0), ("memory_mb", -5),
                                          ("max_processes", 1.5), ("memory_mb", True)])
def test_limits_that_would_stop_every_notebook_are_refused(field, value):
    from course_tools.grade import Limits

    with pytest.raises(ValueError, match=field):
        Limits(**{field: value})
