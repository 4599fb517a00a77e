"""What crosses the grading sandbox, and how points are decided from it, without a sandbox: fast tests.

The plain-data codec both ways, the harness that defines and calls a student's functions (run here as a plain
subprocess: the sandbox around it is tested in test_grade.py), and the grader's comparison of an untrusted
outcome with the reference's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from course_tools import plain_data, sandbox_harness
from course_tools.grade import outcome_difference, score


def test_plain_data_goes_both_ways_and_refuses_everything_else():
    value = {"shape": (None, 3), "arrays": [np.arange(6, dtype=np.float32).reshape(2, 3), np.bool_(True)],
             "text": "é", 4: 2.5}
    back = plain_data.loads(plain_data.dumps(value))
    assert back["shape"] == (None, 3) and back["text"] == "é" and back[4] == 2.5
    np.testing.assert_array_equal(back["arrays"][0], value["arrays"][0])
    assert back["arrays"][0].dtype == np.float32 and back["arrays"][1].shape == ()
    for not_plain in (object(), np.array([object()]), {1, 2}, lambda: 1, np.array(["a"])):
        with pytest.raises(plain_data.NotPlainData):
            plain_data.encode(not_plain)
    nested = []
    for _ in range(plain_data.MAX_DEPTH + 2):
        nested = [nested]
    with pytest.raises(plain_data.NotPlainData, match="nested"):
        plain_data.encode(nested)
    hostile = ['{"array": {"dtype": "|O", "shape": [1], "base64": ""}}',  # a pickled object's dtype
               '{"array": {"dtype": "<f8", "shape": [1000000], "base64": "AAAAAAAAAAA="}}',  # bytes that lie
               '{"array": {"dtype": "<f8", "shape": [-1], "base64": ""}}', '{"set": [1]}', "[" * 100_000,
               '{"dict": [[[1], 2]]}']
    for text in hostile:
        with pytest.raises(plain_data.NotPlainData):
            plain_data.loads(text)


def _run_harness(tmp_path: Path, cells: list[str], function: str, cases: list[dict]) -> dict:
    package = tmp_path / "library" / "fakelib"
    (package / "checks").mkdir(parents=True, exist_ok=True)
    (package / "checks" / "__init__.py").write_text("")
    (package / "_private.py").write_text("SCALE = 2\n")
    # The package exports names of its private modules (as unet_lib exports keras) and of the others.
    (package / "__init__.py").write_text('_EXPORTS = {"SCALE": "fakelib._private", "train": "fakelib.training"}\n'
                                         'raise SystemExit("the package itself never runs while grading")\n')
    job = {"cells": cells, "package": "fakelib", "library_dir": str(tmp_path / "library"),
           "exercises": [{"name": function, "function": function, "kind": "call", "cases": cases}]}
    (tmp_path / "job.json").write_text(plain_data.dumps(job))
    ran = subprocess.run([sys.executable, "-I", sandbox_harness.__file__, str(tmp_path / "job.json")],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    return plain_data.loads(ran.stdout.splitlines()[0])


def test_the_harness_defines_the_answer_from_its_cell_helpers_and_constants_and_runs_nothing_else(tmp_path):
    cells = [
        "%matplotlib inline\nimport numpy as np\nfrom fakelib import train, triple_reference\n"
        "from fakelib._private import SCALE\nOFFSET = 1\ntrain(epochs=100)\nraise SystemExit('a lesson cell')",
        "def helper(x):\n    return np.asarray(x) * SCALE",
        "%%time\nprint('debugging', flush=True)\ndef triple(x):\n    return helper(x) + np.asarray(x) + OFFSET - 1",
        "while True:\n    pass",  # a cell that never ends: not an answer cell, so it does not run
    ]
    reply = _run_harness(tmp_path, cells, "triple", [{"label": "one", "args": (np.arange(3),), "kwargs": {}}])
    assert list(reply["results"]["triple"][0]) == ["value"], reply
    np.testing.assert_array_equal(reply["results"]["triple"][0]["value"], [0, 3, 6])
    assert reply["problems"] == []


def test_what_the_package_exports_from_its_private_modules_is_real_and_the_rest_a_stand_in(tmp_path):
    # Lessons import Keras as `from unet_lib import keras` (unet_lib._keras): an answer needs the real one.
    cells = ["from fakelib import SCALE, train\ndef scaled(x):\n    return x * SCALE",
             "def trained(x):\n    return train(x)"]
    case = [{"label": "one", "args": (3,), "kwargs": {}}]
    assert _run_harness(tmp_path, cells, "scaled", case)["results"]["scaled"] == [{"value": 6}]
    assert _run_harness(tmp_path, cells, "trained", case)["results"]["trained"][0]["raised"] == "LibraryNotAvailable"


def test_an_answer_that_calls_the_library_gets_an_error_not_its_answer(tmp_path):
    cells = ["import sys\nsys.setprofile(None)\nimport fakelib.convolution as library\nprint(undefined_name)\n"
             "def triple(x):\n    return library.triple(x)",
             "def unused():\n    return 1"]
    reply = _run_harness(tmp_path, cells, "triple", [{"label": "one", "args": (1,), "kwargs": {}}])
    outcome = reply["results"]["triple"][0]
    assert outcome["raised"] == "LibraryNotAvailable" and "fakelib.convolution.triple" in outcome["message"]
    assert reply["problems"] == ["cell 0, line 4: NameError: name 'undefined_name' is not defined"]
    missing = _run_harness(tmp_path, ["x = 1"], "triple", [{"label": "one", "args": (1,), "kwargs": {}}])
    assert missing["results"]["triple"] == [{"missing": "triple"}]


def test_outcomes_are_compared_with_the_reference_and_a_hostile_outcome_is_a_wrong_answer():
    expected = {"value": np.eye(2, dtype=np.float32)}
    assert outcome_difference("call", {"value": np.eye(2)}, expected) is None
    assert "first at [0, 1]" in outcome_difference("call", {"value": np.ones((2, 2))}, expected)
    assert "not written yet" in outcome_difference("call", {"raised": "NotImplementedError"}, expected)
    assert "ValueError" in outcome_difference("call", {"value": 1}, {"raised": "ValueError"})
    assert outcome_difference("call", {"raised": "ValueError", "message": "x"}, {"raised": "ValueError"}) is None
    summary = {"shapes": [(4, 4, 2)], "params": 10, "outputs": [np.zeros(28)], "dropout": [], "weights": [],
               "concatenations": [], "skip_used": None, "softmax": False}
    assert outcome_difference("model", {"value": summary}, {"value": summary}) is None
    for hostile in (None, [], {"value": {"layers": "all of them"}}, {"value": {**summary, "shapes": "all"}},
                    {"value": {**summary, "outputs": [1, 2]}}, {"value": {**summary, "params": "many"}},
                    {"value": {**summary, "outputs": [np.full(28, np.nan)]}},
                    {"not_plain": "a Liar"}, {"missing": "f"}, {"raised": ["list"]}):
        assert outcome_difference("model", hostile, {"value": summary}), hostile
    grading = {"assignments": {"lesson": [{"exercise": "f", "points": 2}]},
               "exercises": {"f": {"kind": "call", "cases": [{"label": "one", "expected": {"value": 1}}] * 2}}}
    assert score(grading, "lesson", {"results": {"f": [{"value": 1}, {"value": 1}]}})[0].points == 2.0
    partly = score(grading, "lesson", {"results": {"f": [{"value": 1}, {"value": 2}]}})[0]
    assert partly.points == 0.0 and partly.message == "case 'one': expected 1, got 2"
    assert score(grading, "lesson", {"results": {"f": [{"value": 1}]}})[0].points == 0.0  # a case left out
    assert score(grading, "lesson", "the graded calls ran past 60 s")[0].message == "the graded calls ran past 60 s"


def test_the_course_records_every_exercise_with_visible_and_hidden_cases():
    from course_tools.release import record_grading

    lessons = {name: json.loads((Path(__file__).parents[1] / "lessons" / name).read_text())["cells"]
               for name in ("00_setup.ipynb", "04_unet.ipynb", "06_your_own_data.ipynb")}
    grading = json.loads(record_grading(Path(__file__).parents[1] / "unet_lib", lessons))
    exercises = plain_data.decode(grading["exercises"])
    assert grading["assignments"]["00_setup"] == [{"exercise": "one_hot", "points": 1},
                                                  {"exercise": "predicted_upsampled_pixels", "points": 1}]
    assert [entry["exercise"] for entry in grading["assignments"]["04_unet"]] == [
        "conv_block", "unet_model", "receptive_field", "unpadded_unet_sizes"]
    assert grading["assignments"]["06_your_own_data"] == [{"exercise": "binary_mask_to_labels", "points": 1},
                                                          {"exercise": "median_frequency_weights", "points": 1},
                                                          {"exercise": "colour_mask_to_labels", "points": 2}]
    assert len(exercises["one_hot"]["cases"]) == 6 and exercises["unet_model"]["kind"] == "model"
    unknown_colour = exercises["colour_mask_to_labels"]["cases"][-1]["expected"]
    assert unknown_colour["raised"] == "ValueError"
    mooc = exercises["unet_model"]["cases"][0]["expected"]["value"]
    assert mooc["params"] == 8_640_471 and mooc["shapes"] == [(96, 128, 23)]  # the MOOC's U-Net
