"""Self-check machinery for "your turn" exercises: run the learner's code, say what differs.

A check never ends in a bare ``AssertionError``. It raises :class:`CheckFailed`, whose message
names the case, what was expected, what came back and where they first differ; in a notebook only
that message is shown, not a traceback into this module.

Reference answers come from the reference code: each checks module has ``<exercise>_cases()``
functions that call it. In a student release (``python -m unet_lib release``) the reference bodies
are removed, so each ``<exercise>_cases()`` body is replaced by ``return recorded_cases("<exercise>")``,
which reads the answers recorded when the release was built. That substitution is the only switch.
"""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np


class CheckFailed(AssertionError):
    """The learner's answer differs from the reference; the message says how."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback: the learner needs the verdict, not our stack.
        return [f"\033[31m✗ {line}\033[0m" if i == 0 else f"  {line}"
                for i, line in enumerate(str(self).splitlines())]


@dataclasses.dataclass(frozen=True)
class Case:
    """One input to a learner's function and the answer the reference gives for it.

    Attributes:
        label: how the case is named in feedback, e.g. ``"2x2 input, 2x2 kernel, stride 1"``.
        args: positional arguments passed to the learner's function.
        expected: the reference answer (an array, a number, a tuple...).
        kwargs: keyword arguments passed to the learner's function.
    """

    label: str
    args: tuple
    expected: Any
    kwargs: dict = dataclasses.field(default_factory=dict)


def _format_index(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def describe_difference(got: Any, expected: Any, *, rtol: float = 1e-5, atol: float = 1e-6) -> str | None:
    """Say how ``got`` differs from ``expected``, or return ``None`` when they match.

    Numbers and arrays are compared with ``numpy.allclose``-style tolerances; the message gives
    the shapes when they differ, otherwise the first mismatching position (row-major order) with
    both values there, and how many positions differ in all. Tuples and lists are compared item by
    item; anything else with ``==``.
    """
    if isinstance(expected, (tuple, list)) and not isinstance(got, np.ndarray):
        if not isinstance(got, (tuple, list)):
            return f"expected a {type(expected).__name__} of {len(expected)} items, got {type(got).__name__} {got!r}"
        if len(got) != len(expected):
            return f"expected {len(expected)} items {tuple(expected)!r}, got {len(got)} items {tuple(got)!r}"
        for position, (got_item, expected_item) in enumerate(zip(got, expected, strict=True)):
            difference = describe_difference(got_item, expected_item, rtol=rtol, atol=atol)
            if difference is not None:
                return f"item {position}: {difference}"
        return None
    if isinstance(expected, (np.ndarray, np.generic, int, float)) and not isinstance(expected, bool):
        if got is None:
            return "expected a value, got None (did the function forget to `return`?)"
        try:
            got_array = np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            return f"expected a number or array, got {type(got).__name__} {got!r}"
        expected_array = np.asarray(expected, dtype=float)
        if got_array.shape != expected_array.shape:
            return f"expected shape {expected_array.shape}, got shape {got_array.shape}"
        close = np.isclose(got_array, expected_array, rtol=rtol, atol=atol, equal_nan=True)
        if close.all():
            return None
        if expected_array.ndim == 0:
            return f"expected {expected_array.item():g}, got {got_array.item():g}"
        first = tuple(np.argwhere(~close)[0])
        return (
            f"{int((~close).sum())} of {close.size} values differ; first at {_format_index(first)}: "
            f"expected {expected_array[first]:g}, got {got_array[first]:g}"
        )
    if got != expected:
        return f"expected {expected!r}, got {got!r}"
    return None


def verify(
    title: str,
    learner_function: Callable[..., Any],
    cases: Sequence[Case],
    *,
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> None:
    """Run ``learner_function`` on every case; print a verdict or raise :class:`CheckFailed`.

    Args:
        title: what is being checked, e.g. ``"one_hot"``.
        learner_function: the learner's implementation.
        cases: inputs with the reference answers.
        rtol, atol: tolerances for numbers and arrays, as in ``numpy.isclose``.

    Raises:
        CheckFailed: on the first case whose answer differs, or that raises; the message says
            which case, what was expected and what came back.
    """
    if not callable(learner_function):
        raise CheckFailed(f"{title}: expected a function to check, got {type(learner_function).__name__}")
    for case in cases:
        got = learner_answer(title, learner_function, case)
        difference = describe_difference(got, case.expected, rtol=rtol, atol=atol)
        if difference is not None:
            raise CheckFailed(case_differs_message(title, case.label, difference))
    print(f"✓ {title}: all {len(cases)} cases match the reference.")


def learner_answer(title: str, learner_function: Callable[..., Any], case: Case) -> Any:
    """Call ``learner_function`` on one case's inputs and return its answer.

    Raises:
        CheckFailed: if the function raises: "not written yet" for ``NotImplementedError``,
            otherwise the error's type and message.
    """
    try:
        return learner_function(*case.args, **case.kwargs)
    except NotImplementedError:
        raise CheckFailed(
            f"{title}: not written yet (the cell still raises NotImplementedError).\n"
            "Replace `raise NotImplementedError()` with your code, run that cell, then this one."
        ) from None
    except Exception as error:  # noqa: BLE001 - any error in learner code becomes feedback
        raise CheckFailed(f"{title}: case '{case.label}' raised {type(error).__name__}: {error}") from None


def case_differs_message(title: str, label: str, difference: str) -> str:
    """The feedback for a case whose answer differs: which case, then how (from :func:`describe_difference`)."""
    return f"{title}: case '{label}' differs from the reference:\n{difference}"


RECORDED_DIR = Path(__file__).with_name("recorded")
"""Where a student release keeps the recorded reference answers, one ``<exercise>.pkl`` each."""


def recorded_cases(exercise: str) -> list[Case]:
    """The cases of ``exercise`` recorded when the student release was built.

    Args:
        exercise: an exercise name, a key of some checks module's ``GRADED``, e.g. ``"one_hot"``.

    Returns:
        The same cases (label, inputs, reference answer) that ``<exercise>_cases()`` returned in the
        instructor's copy.

    Raises:
        ValueError: if nothing was recorded for ``exercise``.
    """
    record = _load_recorded(exercise, "exercise")
    return [Case(c["label"], tuple(c["args"]), c["expected"], dict(c["kwargs"])) for c in record["cases"]]


def recorded_value(function: str):
    """What ``function`` returned in the instructor's copy, recorded when the student release was built.

    The release replaces the body of each function named in a checks module's ``RECORDED`` list by
    this lookup (see :func:`unet_lib.classroom.exercises.discover_recorded`).

    Args:
        function: the dotted name, e.g. ``"unet_lib.checks.model.unet_architectures"``.

    Raises:
        ValueError: if nothing was recorded for ``function``.
    """
    return _load_recorded(function, "function")


def _load_recorded(name: str, argument: str):
    path = RECORDED_DIR / f"{name}.pkl"
    if not path.is_file():
        raise ValueError(f"{argument} must be one recorded with this release, got {name!r} (no {path})")
    with path.open("rb") as file:
        return pickle.load(file)
