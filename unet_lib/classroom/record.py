"""Record each exercise's visible self-check cases, in a process of its own (run by :mod:`unet_lib.classroom.release`).

Usage: ``python -m unet_lib.classroom.record SPEC_JSON`` with ``{"package": ..., "out": folder,
"exercises": {name: checks module}}``. For each exercise it calls the instructor's ``<exercise>_cases()``,
checks that the cases are plain data (arrays, numbers, strings, tuples, lists, dicts), and pickles them,
which the student copy's self-checks read (:func:`unet_lib.checks.core.recorded_cases`). It prints one
JSON line: exercise -> ``{"n_cases"}``. Grading does not use them: nbgrader grades with the hidden tests.
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


def record(spec: dict) -> dict[str, dict]:
    """Record every exercise of ``spec`` (see the module docstring); return the summaries."""
    out = Path(spec["out"])
    summaries = {}
    for name, module_name in spec["exercises"].items():
        module = importlib.import_module(module_name)
        cases = getattr(module, f"{name}_cases")()
        for case in cases:
            _plain((case.args, case.kwargs, case.expected), f"{module_name}.{name}_cases() case {case.label!r}")
        record_data = {"cases": [{"label": c.label, "args": tuple(c.args), "kwargs": dict(c.kwargs),
                                  "expected": c.expected} for c in cases]}
        with (out / f"{name}.pkl").open("wb") as file:
            pickle.dump(record_data, file, protocol=4)
        summaries[name] = {"n_cases": len(cases)}
    return summaries


if __name__ == "__main__":
    print(json.dumps(record(json.loads(sys.argv[1]))))
