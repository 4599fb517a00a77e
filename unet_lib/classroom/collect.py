"""Run one exercise's check on a student's solution, in a sandboxed process of its own.

Usage: ``python .../classroom/collect.py SPEC_JSON_PATH``, started by the grader with the
student release's package first on ``PYTHONPATH``. The spec gives the package, the exercise, its
checks module and grading mode, the definitions the solution needs (imports and functions from the
lesson and the student's earlier solutions), the student's solution cell, the lesson's
``check_<exercise>(...)`` call and where to write the result (JSON).

The check function is imported before any student code runs and bound again right before the call,
so a solution that redefines ``check_<exercise>`` or ``assert`` changes nothing. In ``"answers"``
mode ``core.verify`` is replaced by a collector: this process only reports what the learner's
function returned for each case (no expected answers are even present here), and the grader
compares them with the recorded answers itself.
"""

from __future__ import annotations

import importlib
import json
import sys

import numpy as np

MAX_ELEMENTS = 5_000_000
"""Arrays larger than this are reported by shape only (the grader's memory is not the student's to fill)."""


def encode(value):
    """A learner's answer as JSON-ready data: arrays, numbers, strings and sequences keep their form."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (tuple, list)):
        return {"sequence": type(value).__name__, "items": [encode(item) for item in value]}
    if isinstance(value, (int, float)):
        return value if isinstance(value, float) or abs(value) < 2**53 else float(value)
    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001 - anything np.asarray refuses is described by its type
        array = None
    if array is not None and array.dtype.kind in "biuf":
        if array.size > MAX_ELEMENTS:
            return {"too_large": list(array.shape)}
        return {"array": array.tolist(), "dtype": array.dtype.str, "shape": list(array.shape)}
    return {"repr": f"{type(value).__name__} {value!r}"[:300]}


def _run(spec: dict, result: dict) -> None:
    package, exercise = spec["package"], spec["exercise"]
    core = importlib.import_module(f"{package}.checks.core")
    check = getattr(importlib.import_module(spec["checks_module"]), f"check_{exercise}")
    check_failed, learner_answer = core.CheckFailed, core.learner_answer

    if spec["mode"] == "answers":
        def collect(title, learner_function, cases, **tolerances):
            if not callable(learner_function):
                raise check_failed(f"{title}: expected a function to check, got {type(learner_function).__name__}")
            for case in cases:
                got = learner_answer(title, learner_function, case)
                result["answers"].append({"label": case.label, "got": encode(got)})

        original = core.verify
        for name, module in list(sys.modules.items()):
            if name.startswith(f"{package}.checks") and getattr(module, "verify", None) is original:
                module.verify = collect

    namespace = {"__name__": "__main__"}
    for definition in spec["definitions"]:
        try:
            exec(compile(definition, "<lesson>", "exec"), namespace)  # noqa: S102 - this process exists to do it
        except BaseException:  # noqa: BLE001 - a missing helper shows up as the check's own error
            pass
    try:
        exec(compile(spec["solution"], "<your solution cell>", "exec"), namespace)  # noqa: S102
    except BaseException as error:  # noqa: BLE001 - SystemExit included: the student's cell ends here
        result["feedback"] = f"{exercise}: your solution cell raised {type(error).__name__}: {error}"
        return
    namespace[f"check_{exercise}"] = check
    try:
        exec(compile(spec["check_call"], "<self-check>", "exec"), namespace)  # noqa: S102
    except check_failed as failure:
        result["feedback"] = str(failure)
        return
    except BaseException as error:  # noqa: BLE001
        result["feedback"] = f"{exercise}: the check raised {type(error).__name__}: {error}"
        return
    result["passed"] = True


def main(spec_path: str) -> None:
    with open(spec_path, encoding="utf-8") as file:
        spec = json.load(file)
    result = {"answers": [], "passed": False, "feedback": None}
    try:
        _run(spec, result)
    finally:
        with open(spec["result"], "w", encoding="utf-8") as file:
            json.dump(result, file)


if __name__ == "__main__":
    main(sys.argv[1])
