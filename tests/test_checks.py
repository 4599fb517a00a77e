"""The self-check machinery: feedback says what differs, and never passes a wrong answer."""

import numpy as np
import pytest

from unet_lib.checks import Case, CheckFailed, check_one_hot, describe_difference, verify


def test_matching_values_have_no_difference():
    assert describe_difference(np.ones((2, 3)), np.ones((2, 3))) is None
    assert describe_difference(3, 3.0) is None
    assert describe_difference((4, 4), (4, 4)) is None


def test_shape_mismatch_names_both_shapes():
    message = describe_difference(np.ones((3, 3)), np.ones((4, 4)))
    assert message == "expected shape (4, 4), got shape (3, 3)"


def test_value_mismatch_gives_first_position_and_count():
    expected = np.zeros((3, 4))
    got = expected.copy()
    got[1, 2] = 5.0
    got[2, 0] = 1.0
    message = describe_difference(got, expected)
    assert message == "2 of 12 values differ; first at [1, 2]: expected 0, got 5"


def test_scalar_and_tuple_mismatches():
    assert describe_difference(3, 4) == "expected 4, got 3"
    assert describe_difference((4, 5), (4, 4)) == "item 1: expected 4, got 5"
    assert describe_difference((4,), (4, 4)).startswith("expected 2 items")
    assert "forget to `return`" in describe_difference(None, np.zeros(2))


def test_verify_reports_failing_case_and_passes_good_function(capsys):
    cases = [Case("double 2", (2,), 4), Case("double 3", (3,), 6)]
    verify("double", lambda x: 2 * x, cases)
    assert "all 2 cases match" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="case 'double 3' differs from the reference:\nexpected 6, got 9"):
        verify("double", lambda x: x * x, cases)


def test_verify_turns_learner_errors_into_feedback():
    def unfinished(x):
        raise NotImplementedError()

    with pytest.raises(CheckFailed, match="not written yet"):
        verify("f", unfinished, [Case("one", (1,), 1)])
    with pytest.raises(CheckFailed, match="raised ZeroDivisionError"):
        verify("f", lambda x: x / 0, [Case("one", (1,), 1)])
    with pytest.raises(CheckFailed, match="expected a function"):
        verify("f", 42, [Case("one", (1,), 1)])


def test_check_failed_renders_without_traceback_in_ipython():
    lines = CheckFailed("f: case 'a' differs\nexpected 1, got 2")._render_traceback_()
    assert "f: case 'a' differs" in lines[0] and lines[1] == "  expected 1, got 2"


def test_check_one_hot_rejects_a_wrong_answer():
    with pytest.raises(CheckFailed, match="values differ; first at"):
        check_one_hot(lambda mask, n: 1.0 - (np.asarray(mask)[..., None] == np.arange(n)))


def test_a_check_loads_without_the_model_checks_or_keras():
    # Grading one_hot runs a fresh process per exercise: it should not pay for importing TensorFlow.
    import subprocess
    import sys

    program = ("import sys\nfrom unet_lib import check_one_hot\nfrom unet_lib.checks import CheckFailed\n"
               "print(sorted(m for m in ('keras', 'tensorflow', 'unet_lib.checks.model') if m in sys.modules))")
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120,
                               check=True)
    assert completed.stdout.strip() == "[]"


def test_an_answer_that_the_library_computes_fails_however_it_is_called():
    # A learner's conv_transpose2d_naive that hands the work to the vectorised version, under any name, and the
    # output size taken from transpose_axis: the checks name the library function instead of passing.
    from unet_lib.checks import check_conv_transpose2d_naive, check_conv_transpose_output_size
    from unet_lib.reference.arithmetic import transpose_axis
    from unet_lib.reference.convolution import conv_transpose2d

    vectorised = conv_transpose2d
    answers = [
        (check_conv_transpose2d_naive, conv_transpose2d, "unet_lib.reference.convolution.conv_transpose2d"),
        (check_conv_transpose2d_naive, lambda *args, **kwargs: vectorised(*args, **kwargs),
         "unet_lib.reference.convolution.conv_transpose2d"),
        (check_conv_transpose_output_size, lambda *args, **kwargs: transpose_axis(*args, **kwargs)[0],
         "unet_lib.reference.arithmetic.transpose_axis"),
    ]
    for check, answer, library_function in answers:
        with pytest.raises(CheckFailed, match=f"the answer calls the course library's {library_function}, which"):
            check(answer)


def test_an_answer_may_check_its_arguments_with_the_library():
    from unet_lib import check_input_size

    def one_hot(mask, n_classes):
        check_input_size((4, 4, 1), depth=2)  # a helper that computes no answer
        return (np.asarray(mask)[..., None] == np.arange(n_classes)).astype(np.float32)

    check_one_hot(one_hot)


def test_a_notebook_shows_an_unwritten_exercise_and_what_it_leaves_undefined_in_one_line(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    from unet_lib import report_unwritten_exercises

    shell = InteractiveShell.instance()
    try:
        report_unwritten_exercises()
        shell.run_cell("def unet_model(input_size):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n")
        capsys.readouterr()
        shell.run_cell("model = unet_model((64, 64, 3))")
        unwritten = capsys.readouterr().out
        shell.run_cell("model.summary()")
        undefined = capsys.readouterr().out
        shell.run_cell("1 / 0")
        other = capsys.readouterr().out
        # A typo inside a function, or a library's own NotImplementedError, is no unwritten exercise.
        shell.run_cell("def iou(a, b):\n    return a / unions\n")
        shell.run_cell("iou(1, 2)")
        typo = capsys.readouterr().out
        shell.run_cell("class Batches:\n    def __getitem__(self, index):\n        raise NotImplementedError()\n")
        shell.run_cell("Batches()[0]")
        library = capsys.readouterr().out
        shell.run_cell("def fit():\n    raise NotImplementedError('use fit_generator')\n")
        shell.run_cell("fit()")
        with_message = capsys.readouterr().out
        shell.run_cell("from my_unet import unet_model")  # the answers an earlier lesson saves, not saved here
        not_saved = capsys.readouterr().out
        shell.run_cell("import no_such_module_anywhere")
        other_module = capsys.readouterr().out
    finally:
        InteractiveShell.clear_instance()
    assert unwritten.strip().splitlines() == [
        "\x1b[31m✗ unet_model: not written yet (the cell still raises NotImplementedError).\x1b[0m",
        "  Replace `raise NotImplementedError()` with your code, run that cell, then this one.",
        "  (This cell stopped here; the cells after it still run.)"]
    assert undefined.strip().splitlines() == [
        "\x1b[31m✗ model is not defined yet: its cell stopped at an exercise not written yet.\x1b[0m",
        "  (This cell stopped here; the cells after it still run.)"]
    assert "ZeroDivisionError" in other and "Traceback" in other  # other errors keep their traceback
    assert "name 'unions' is not defined" in typo and "not defined yet" not in typo  # Python's own, traceback
    assert "__getitem__" in library and "NotImplementedError" in library and "not written yet" not in library
    assert "use fit_generator" in with_message and "not written yet" not in with_message
    assert not_saved.strip().splitlines()[0] == (
        "\x1b[31m✗ my_unet.py is not beside this lesson yet: run the lessons before it first.\x1b[0m")
    assert "ModuleNotFoundError" in other_module and "Traceback" in other_module


def test_run_all_goes_on_past_an_unwritten_exercise_and_ends_with_what_is_left(capsys, monkeypatch):
    # JupyterLab's Run All stops at the first cell whose reply is an error: a cell that needs an exercise not
    # written yet must end without one, so that the cells after it, which may not need it, still run.
    from IPython.core.interactiveshell import InteractiveShell

    from unet_lib import check_one_hot, exercises_left, report_unwritten_exercises

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    shell = InteractiveShell.instance()
    shell.user_ns["check_one_hot"] = check_one_hot
    try:
        report_unwritten_exercises()
        shell.run_cell("def one_hot(mask, n_classes):\n    raise NotImplementedError()\n")
        checked = shell.run_cell("check_one_hot(one_hot)")
        stub = shell.run_cell("encoded = one_hot([0, 1], 2)\nprint('never printed')")
        dependent = shell.run_cell("encoded.shape")
        independent = shell.run_cell("6 * 7")
        shell.run_cell("def helper():\n    return 1\n\nencoded_again = one_hot([1], 2)\n\ndef later():\n    return 2\n")
        uses_helper = shell.run_cell("def twice():\n    return 2 * encoded_again\n\ntwice()")  # inside a function
        typo = shell.run_cell("print(no_such_name_ever)")  # a name no stopped cell defines: a real error
        other = shell.run_cell("1 / 0")
        capsys.readouterr()
        exercises_left()
        left = capsys.readouterr().out
    finally:
        InteractiveShell.clear_instance()
    assert checked.success and stub.success and dependent.success and uses_helper.success
    assert independent.success and independent.result == 42  # a last expression is still shown
    assert not typo.success and not other.success  # every other error stops Run All, as before
    assert left.strip().splitlines() == ["Still to write in this lesson: one_hot.",
                                         "Write it where it says `raise NotImplementedError()`, then run all again."]


def test_an_earlier_lessons_exercise_not_written_is_listed_apart(tmp_path, monkeypatch, capsys):
    # Lesson 06 calls the unet_model that lesson 04 saved to my_unet.py: still a stub there, it is not this lesson's.
    from IPython.core.interactiveshell import InteractiveShell

    from unet_lib import exercises_left, report_unwritten_exercises

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    (tmp_path / "my_unet.py").write_text("def unet_model(input_size):\n    raise NotImplementedError()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    shell = InteractiveShell.instance()
    try:
        report_unwritten_exercises()
        shell.run_cell("from my_unet import unet_model")
        assert shell.run_cell("model = unet_model((32, 32, 3))").success
        capsys.readouterr()
        exercises_left()
        left = capsys.readouterr().out
    finally:
        InteractiveShell.clear_instance()
    assert left.strip().splitlines() == [
        "Not written yet in an earlier lesson (saved to my_unet.py): unet_model.",
        "No exercise of this lesson has run its self-check yet."]


def test_a_solved_lesson_keeps_its_name_errors_and_a_grader_sees_every_failure(monkeypatch, capsys):
    from IPython.core.interactiveshell import InteractiveShell

    from unet_lib import check_one_hot, exercises_left, report_unwritten_exercises

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    shell = InteractiveShell.instance()
    try:
        report_unwritten_exercises()
        assert not shell.run_cell("print(no_such_name_ever)").success  # no exercise skipped: a real bug
        shell.user_ns["check_one_hot"] = check_one_hot
        shell.run_cell("import numpy as np\n"
                       "def one_hot(mask, n_classes):\n    return np.eye(n_classes)[np.asarray(mask)]\n")
        assert shell.run_cell("check_one_hot(one_hot)").success
        # A lesson showing what a wrong answer gets does not turn the learner's pass into a failure.
        shell.run_cell("def one_hot_missing_last_class(mask, n_classes):\n"
                       "    return one_hot(mask, n_classes)[..., :-1]\n"
                       "try:\n    check_one_hot(one_hot_missing_last_class)\nexcept AssertionError:\n    pass\n")
        capsys.readouterr()
        exercises_left()
        assert capsys.readouterr().out.strip() == "Every exercise in this lesson passes its self-check: one_hot."
    finally:
        InteractiveShell.clear_instance()
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    shell = InteractiveShell.instance()
    try:
        report_unwritten_exercises()
        shell.run_cell("def one_hot(mask, n_classes):\n    raise NotImplementedError()\n")
        shell.user_ns["check_one_hot"] = check_one_hot
        assert not shell.run_cell("check_one_hot(one_hot)").success  # a graded cell that fails must fail
    finally:
        InteractiveShell.clear_instance()


def test_outside_ipython_reporting_unwritten_exercises_does_nothing():
    import sys

    from unet_lib import report_unwritten_exercises

    hook = sys.excepthook
    report_unwritten_exercises()
    assert sys.excepthook is hook  # a script's errors keep Python's own traceback
    try:
        from IPython import get_ipython
    except ImportError:
        return
    assert get_ipython() is None  # and no IPython shell was started to install a handler in


def test_save_answers_writes_the_functions_without_solution_markers_and_keeps_earlier_ones(tmp_path):
    import importlib.util

    from IPython.core.interactiveshell import InteractiveShell

    from unet_lib import save_answers

    shell = InteractiveShell.instance()
    try:  # functions defined in notebook cells, as a learner's are
        shell.run_cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n\n\n"
                       "def triple(x):\n    return 3 * x\n")
        double, triple = shell.user_ns["double"], shell.user_ns["triple"]
    finally:
        InteractiveShell.clear_instance()
    path = save_answers(double, folder=tmp_path)
    assert path == tmp_path / "my_unet.py" and "### BEGIN SOLUTION" not in path.read_text()
    save_answers(triple, folder=tmp_path)  # a later lesson adds its own
    save_answers(double, folder=tmp_path)  # and saving again replaces, never duplicates
    assert path.read_text().count("def double(") == 1 and "def triple(" in path.read_text()
    spec = importlib.util.spec_from_file_location("my_unet", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (module.double(2), module.triple(2)) == (4, 6)
    with pytest.raises(ValueError, match="functions must be functions you defined, got <built-in function len>"):
        save_answers(len, folder=tmp_path)
    # Called with nothing (as the release test calls every public function on each exercise's arguments, a
    # prediction's being none): an error, not an empty my_unet.py that later lessons would fail to import from.
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="functions must name at least one function to save, got none"):
        save_answers(folder=tmp_path / "empty")
    assert not (tmp_path / "empty" / "my_unet.py").exists()


def test_a_common_mistake_is_named_in_words():
    from unet_lib.checks import check_conv_transpose_output_size

    def without_output_padding(i, k, stride=1, padding=0, output_padding=None):
        return (i - 1) * stride - 2 * padding + k if isinstance(padding, int) else i * stride

    def cropping_once(i, k, stride=1, padding=0, output_padding=None):
        return (i - 1) * stride - padding + k + (output_padding or 0) if isinstance(padding, int) else i * stride

    for answer, mistake in ((without_output_padding, "leaving out output_padding"),
                            (cropping_once, "cropping the padding p once")):
        with pytest.raises(CheckFailed, match=f"This is what {mistake}.* gives.\nexpected"):
            check_conv_transpose_output_size(answer)


def test_a_named_mistake_survives_recording(tmp_path, monkeypatch):
    # A student copy reads its cases back from the recorded file: the mistakes must come back with them.
    import pickle

    from unet_lib.checks import core
    from unet_lib.checks.transpose import conv_transpose_output_size_cases

    cases = conv_transpose_output_size_cases()
    record = {"cases": [{"label": c.label, "args": c.args, "kwargs": c.kwargs, "expected": c.expected,
                         "mistakes": c.mistakes} for c in cases]}
    (tmp_path / "conv_transpose_output_size.pkl").write_bytes(pickle.dumps(record))
    monkeypatch.setattr(core, "RECORDED_DIR", tmp_path)
    assert core.recorded_cases("conv_transpose_output_size") == cases
    assert any(case.mistakes for case in cases)


def test_a_failed_check_reads_in_lines_that_fit_the_notebook_without_breaking_a_word():
    from unet_lib.checks.core import CheckFailed

    words = ["the", "concatenation", "order", "differs", "from", "the", "reference's:", "skip", "first,", "then"] * 8
    rendered = CheckFailed("unet_model: " + " ".join(words) + "\nexpected [[1 2]\n [3 4]]")._render_traceback_()
    plain = [line.replace("\033[31m", "").replace("\033[0m", "") for line in rendered]
    assert all(len(line) <= 100 for line in plain), plain
    assert " ".join(" ".join(plain).split()).startswith("✗ unet_model: " + " ".join(words))  # words kept whole
    assert plain[-2:] == ["  expected [[1 2]", "   [3 4]]"]  # short lines, arrays too, keep their layout
