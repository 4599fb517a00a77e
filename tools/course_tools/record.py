"""Record each exercise's visible self-check cases, in a process of its own (run by :mod:`course_tools.release`).

Usage: ``python -m course_tools.record SPEC_JSON`` with ``{"package": ..., "out": folder,
"exercises": {name: checks module}}``. For each exercise it calls the instructor's ``<exercise>_cases()``,
checks that the cases are plain data (arrays, numbers, strings, tuples, lists, dicts), and pickles them,
which the student copy's self-checks read (:func:`unet_lib.checks.core.recorded_cases`). It prints one
JSON line: exercise -> ``{"n_cases"}``.

``python -m course_tools.record --graded SPEC_JSON`` (with ``"exercises": {name: [checks module,
reference function]}``) records what the course's grader compares instead (:func:`graded`): every visible
and hidden case of each exercise with the reference's outcome on it, computed by the very code that calls
a student's function in the sandbox (:func:`course_tools.sandbox_harness.outcome`), as one line of
:mod:`~course_tools.plain_data`.
"""

from __future__ import annotations

import importlib
import json
import pickle
import sys
from pathlib import Path

from course_tools import plain_data


def record(spec: dict) -> dict[str, dict]:
    """Record every exercise of ``spec`` (see the module docstring); return the summaries."""
    out = Path(spec["out"])
    summaries = {}
    for name, module_name in spec["exercises"].items():
        module = importlib.import_module(module_name)
        cases = getattr(module, f"{name}_cases")()
        for case in cases:
            try:
                plain_data.encode((case.args, case.kwargs, case.expected, case.mistakes))
            except plain_data.NotPlainData as error:
                raise ValueError(f"{module_name}.{name}_cases() case {case.label!r}: cases must hold plain data "
                                 f"to be recorded, got {error}") from None
        record_data = {"cases": [{"label": c.label, "args": tuple(c.args), "kwargs": dict(c.kwargs),
                                  "expected": c.expected, "mistakes": dict(c.mistakes)} for c in cases]}
        with (out / f"{name}.pkl").open("wb") as file:
            pickle.dump(record_data, file, protocol=4)
        summaries[name] = {"n_cases": len(cases)}
    return summaries


def graded(spec: dict) -> dict[str, dict]:
    """Exercise -> ``{"function", "kind", "cases": [{"label", "args", "kwargs", "hidden", "expected"}]}`` for the
    grader, from ``spec["exercises"]``: name -> ``[checks module, reference function, kind]`` (the declaration's).

    ``expected`` is the reference's outcome (``{"value": ...}`` or ``{"raised": ..., "message": ...}``); ``hidden``
    says whether the case is one of ``<exercise>_hidden_cases()``.
    """
    from course_tools.sandbox_harness import outcome

    exercises = {}
    for name, (module_name, reference, kind) in spec["exercises"].items():
        module = importlib.import_module(module_name)
        reference_module, function = reference.rsplit(".", 1)
        reference_function = getattr(importlib.import_module(reference_module), function)
        cases = [(case, False) for case in getattr(module, f"{name}_cases")()]
        cases += [(case, True) for case in getattr(module, f"{name}_hidden_cases")()]
        records = []
        for case, hidden in cases:
            inputs = {"label": case.label, "args": tuple(case.args), "kwargs": dict(case.kwargs), "hidden": hidden}
            expected = outcome(kind, name, reference_function, {**inputs, "package": spec["package"]})
            if "value" not in expected and "raised" not in expected:
                raise ValueError(f"{module_name}: case {case.label!r} of {name}: the reference's answer is not plain "
                                 f"data ({expected})")
            records.append({**inputs, "expected": expected})
        exercises[name] = {"function": function, "kind": kind, "cases": records}
    return exercises


if __name__ == "__main__":
    if sys.argv[1] == "--graded":
        print(plain_data.dumps(graded(json.loads(sys.argv[2]))))
    else:
        print(json.dumps(record(json.loads(sys.argv[1]))))
