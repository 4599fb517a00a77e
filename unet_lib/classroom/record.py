"""Record each exercise's reference cases, in a process of its own (run by :mod:`unet_lib.classroom.release`).

Usage: ``python -m unet_lib.classroom.record SPEC_JSON`` with ``{"package": ..., "out": folder,
"exercises": {name: checks module}}``. For each exercise it
calls the instructor's ``<exercise>_cases()``, checks that the cases are plain data (arrays, numbers, strings, tuples,
lists, dicts), and pickles them with the check's title and tolerances. It prints one JSON line:
exercise -> ``{"mode", "title", "rtol", "atol", "n_cases"}``.

``mode`` says how the grader judges the exercise. ``"answers"`` when ``check_<exercise>`` hands
exactly these cases to ``core.verify``: the grader then collects the learner's answers in a sandbox
and compares them itself, in a process that never runs learner code. ``"self-judged"`` otherwise
(a check with its own comparison, like the layer-by-layer model checks): the sandbox runs the
check and reports its verdict.
"""

from __future__ import annotations

import importlib
import json
import pickle
import sys
from pathlib import Path

import numpy as np


def _plain(value, where: str) -> None:
    """Raise ValueError unless ``value`` is plain data that a student release can store and load."""
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, np.generic)):
        return
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise ValueError(f"{where}: arrays of Python objects cannot be recorded")
        return
    if isinstance(value, (tuple, list)):
        for index, item in enumerate(value):
            _plain(item, f"{where}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _plain(key, f"{where} key")
            _plain(item, f"{where}[{key!r}]")
        return
    raise ValueError(f"{where}: cases must hold plain data to be recorded, got {type(value).__name__}")


def _probe(package: str, check) -> list[dict]:
    """The ``core.verify`` calls ``check`` makes (title, tolerances, case labels), learner never called."""
    core = importlib.import_module(f"{package}.checks.core")
    original = core.verify
    calls = []

    def record_call(title, learner_function, cases, *, rtol=1e-5, atol=1e-6):
        calls.append({"title": title, "rtol": rtol, "atol": atol, "labels": [case.label for case in cases]})

    modules = [m for name, m in list(sys.modules.items())
               if name.startswith(f"{package}.checks") and getattr(m, "verify", None) is original]
    for module in modules:
        module.verify = record_call
    try:
        check(lambda *args, **kwargs: None)
    except Exception:  # noqa: BLE001 - a check with its own comparison fails on the dummy learner: self-judged
        pass
    finally:
        for module in modules:
            module.verify = original
    return calls


def record(spec: dict) -> dict[str, dict]:
    """Record every exercise of ``spec`` (see the module docstring); return the summaries."""
    out = Path(spec["out"])
    summaries = {}
    for name, module_name in spec["exercises"].items():
        module = importlib.import_module(module_name)
        cases = getattr(module, f"{name}_cases")()
        for case in cases:
            _plain((case.args, case.kwargs, case.expected), f"{module_name}.{name}_cases() case {case.label!r}")
        calls = _probe(spec["package"], getattr(module, f"check_{name}"))
        labels = [case.label for case in cases]
        judged_here = len(calls) == 1 and calls[0]["labels"] == labels
        summary = {"mode": "answers" if judged_here else "self-judged", "title": name, "rtol": 1e-5, "atol": 1e-6,
                   "n_cases": len(cases)}
        if judged_here:
            summary.update(title=calls[0]["title"], rtol=calls[0]["rtol"], atol=calls[0]["atol"])
        record_data = {**summary, "cases": [{"label": c.label, "args": tuple(c.args), "kwargs": dict(c.kwargs),
                                             "expected": c.expected} for c in cases]}
        with (out / f"{name}.pkl").open("wb") as file:
            pickle.dump(record_data, file, protocol=4)
        summaries[name] = summary
    return summaries


if __name__ == "__main__":
    print(json.dumps(record(json.loads(sys.argv[1]))))
