"""The bench verb: its benchmarks, argument checks and a tiny run (no timing asserts)."""

import re

import pytest
from course_tools.bench import parse_shapes, run_transpose_benchmark, time_side_by_side
from course_tools.cli import main


def test_bench_lists_its_benchmarks(capsys):
    assert main(["bench"]) == 2
    listed = capsys.readouterr().out
    assert all(re.search(rf"^ +{name}\b", listed, re.MULTILINE) for name in ("transpose", "unet", "predict", "grade"))


def test_parse_shapes():
    assert parse_shapes("8x32x32x128:64, 1x2x3x4:5") == [(8, 32, 32, 128, 64), (1, 2, 3, 4, 5)]
    for bad in ("8x32x32:64", "8x32x32x128", "0x1x1x1:1", "axbxcxd:e"):
        with pytest.raises(ValueError, match="NxHxWxC_in:C_out"):
            parse_shapes(bad)


def test_time_side_by_side_calls_every_function():
    calls = {"a": 0, "b": 0}

    def count(name):
        calls[name] += 1

    seconds = time_side_by_side({"a": lambda: count("a"), "b": lambda: count("b")}, repeats=3)
    assert set(seconds) == {"a", "b"} and calls == {"a": 4, "b": 4}  # one warm-up + 3 timed each
    assert seconds["a"].wall >= 0 and seconds["a"].cpu >= 0
    with pytest.raises(ValueError, match="repeats must be a positive integer"):
        time_side_by_side({"a": lambda: None}, repeats=0)


def test_transpose_benchmark_on_tiny_shapes():
    report, agree = run_transpose_benchmark([(1, 4, 4, 3, 2)], [2, 3], (1, 3, 3, 2, 2), repeats=1)
    assert agree
    assert "1x4x4x3 -> 2" in report and "x slower" in report and "ratio" in report


def test_bench_transpose_cli_smoke(capsys):
    code = main(["bench", "transpose", "--shapes", "1x4x4x2:2", "--kernels", "3", "--naive-shape", "1x2x2x1:1",
                 "--repeats", "1"])
    assert code == 0
    assert "| 1x4x4x2 -> 2" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="--kernels must be"):
        main(["bench", "transpose", "--kernels", "two"])
    with pytest.raises(SystemExit, match="NxHxWxC_in:C_out"):
        main(["bench", "transpose", "--shapes", "4x4"])


def test_the_report_names_the_cpu_and_the_blas_kernels():
    from course_tools.bench import _machine, cpu_model, numpy_blas

    # NumPy's PyPI wheels bundle OpenBLAS, which picks its kernels for the CPU at run time.
    assert re.fullmatch(r"scipy-openblas [\d.]+, \w+ kernels", numpy_blas()), numpy_blas()
    assert cpu_model() and cpu_model() in _machine() and numpy_blas() in _machine()


def test_bench_lessons_times_each_lesson_run_all_and_its_longest_silence(tmp_path, capsys):
    import nbformat

    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (tmp_path / "media").mkdir()
    cells = [nbformat.v4.new_markdown_cell("# A lesson\n\nSome words here."),
             nbformat.v4.new_code_cell("import time\nprint('start')\ntime.sleep(1.2)\nprint('end')")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), lessons / "00_tiny.ipynb")
    assert main(["bench", "lessons", "--lessons", str(lessons)]) == 0
    report = capsys.readouterr().out
    row = next(line for line in report.splitlines() if line.startswith("| 00_tiny"))
    _, name, run_all, slowest, silence, words, within, _ = (cell.strip() for cell in row.split("|"))
    assert name == "00_tiny" and float(run_all) >= 1.2 and float(slowest) >= 1.2 and int(words) == 5 and within == "yes"
    assert 1.0 <= float(silence) < float(run_all)  # the longest wait with no output: the sleep
    assert "target" in report and "load average" in report
