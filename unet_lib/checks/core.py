"""Self-check machinery for "your turn" exercises: run the learner's code, say what differs.

A check never ends in a bare ``AssertionError``. It raises :class:`CheckFailed`, whose message
names the case, what was expected, what came back and where they first differ; in a notebook only
that message is shown, not a traceback into this module.

Reference answers come from the reference code: each checks module has ``<exercise>_cases()``
functions that call it. In a student release (``python -m course_tools release``) the reference bodies
are removed, so each ``<exercise>_cases()`` body is replaced by ``return recorded_cases("<exercise>")``,
which reads the answers recorded when the release was built. That substitution is the only switch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from unet_lib.answers import ANSWERS_MODULE


class CheckFailed(AssertionError):
    """The learner's answer differs from the reference; the message says how."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback: the learner needs the verdict, not our stack. Long lines are
        # folded between words at 100 characters, before JupyterLab folds them inside one.
        lines = [piece for i, line in enumerate(str(self).splitlines())
                 for piece in (textwrap.wrap(line, 98, subsequent_indent="  ", break_long_words=False,
                                             break_on_hyphens=False) if len(line) > 98 else [line])]
        return [f"\033[31m✗ {line}\033[0m" if i == 0 else f"  {line}" for i, line in enumerate(lines)]


class ExerciseNotWritten(CheckFailed):
    """Code that needs a learner's exercise met its unwritten stub (``raise NotImplementedError()``)."""

    def __init__(self, exercise: str):
        super().__init__(not_written_message(exercise))
        self.exercise = exercise


class AnswersNotSaved(CheckFailed):
    """A lesson imports ``my_unet``, the answers an earlier lesson saves, before that lesson has saved them."""


class NameNotDefinedYet(CheckFailed):
    """A notebook cell used a name that no cell above has defined yet (see :func:`report_unwritten_exercises`)."""


_OUTCOMES: dict[str, str] = {}
"""This kernel's self-checks since the lesson's setup cell: exercise -> "passes", "fails" or "not written"."""
_ANSWERS_MISSING: list[str] = []
"""Non-empty once a cell found ``my_unet`` (an earlier lesson's saved answers) missing."""
_EARLIER_UNWRITTEN: dict[str, None] = {}
"""Exercises of earlier lessons, imported from ``my_unet``, whose stub a cell met (ordered, no repeats)."""
_LEFT_UNDEFINED: set[str] = set()
"""Names that cells which stopped at an unwritten exercise would have defined, and did not."""


@contextlib.contextmanager
def recorded_outcome(exercise: str, learner_function: Callable[..., Any]):
    """Record how the self-check of ``exercise`` run inside this block ends, for :func:`exercises_left`.

    A function named otherwise (a lesson showing what a wrong answer gets, say) does not replace what the
    learner's own function got.
    """
    outcome = "passes"
    try:
        yield
    except ExerciseNotWritten:
        outcome = "not written"
        raise
    except CheckFailed:
        outcome = "fails"
        raise
    finally:
        if getattr(learner_function, "__name__", None) == exercise or exercise not in _OUTCOMES:
            _OUTCOMES[exercise] = outcome


def exercises_left() -> None:
    """Print what is still to write in this lesson: the exercises whose self-checks ran since the setup cell.

    A lesson's last cell calls this, so that Run All on a workbook ends with the list of what is left.
    """
    unwritten = [name for name, outcome in _OUTCOMES.items() if outcome == "not written"]
    failing = [name for name, outcome in _OUTCOMES.items() if outcome == "fails"]
    if unwritten:
        print(f"Still to write in this lesson: {', '.join(unwritten)}.")
        print(f"Write {'it' if len(unwritten) == 1 else 'each'} where it says `raise NotImplementedError()`, "
              "then run all again.")
    if failing:
        print(f"Self-checks that fail: {', '.join(failing)} (their cells say what differs).")
    if _ANSWERS_MISSING:
        print(f"{ANSWERS_MODULE}.py, your answers from the lessons before, is missing: run those lessons first.")
    if _EARLIER_UNWRITTEN:
        print(f"Not written yet in an earlier lesson (saved to {ANSWERS_MODULE}.py): {', '.join(_EARLIER_UNWRITTEN)}.")
    if not _OUTCOMES:
        print("No exercise of this lesson has run its self-check yet.")
    elif not unwritten and not failing:
        print(textwrap.fill(f"Every exercise in this lesson passes its self-check: {', '.join(_OUTCOMES)}.", 100,
                            break_long_words=False, break_on_hyphens=False))


def _innermost_code(traceback):
    """The code object of the innermost frame of ``traceback`` (``None`` for no traceback)."""
    while traceback is not None and traceback.tb_next is not None:
        traceback = traceback.tb_next
    return traceback.tb_frame.f_code if traceback is not None else None


def _raised_in(traceback) -> str:
    """The name of the code the innermost frame of ``traceback`` runs: a function's, or ``<module>`` for a cell."""
    code = _innermost_code(traceback)
    return code.co_name if code is not None else "<module>"


def _unwritten_exercise(error: BaseException) -> str | None:
    """The exercise an error says is not written yet, or ``None`` for an error of any other kind."""
    if isinstance(error, ExerciseNotWritten):
        return error.exercise
    raised_in = _raised_in(error.__traceback__)
    if type(error) is NotImplementedError and not error.args and not raised_in.startswith(("__", "<")):
        # An exercise's stub: a bare `raise NotImplementedError()` in a function (a library's own, in a
        # method such as __getitem__ or with a message, is a real error).
        return raised_in
    return None


def _shown(error: BaseException) -> CheckFailed | None:
    """The one-line error a learner reads instead of ``error``'s traceback, or ``None`` to keep the traceback."""
    exercise = _unwritten_exercise(error)
    if exercise is not None:
        return error if isinstance(error, ExerciseNotWritten) else ExerciseNotWritten(exercise)
    if isinstance(error, ModuleNotFoundError) and error.name == ANSWERS_MODULE:
        return AnswersNotSaved(f"{ANSWERS_MODULE}.py is not beside this lesson yet: run the lessons before it "
                               "first.")
    if isinstance(error, NameError) and _raised_in(error.__traceback__) == "<module>":
        # A name the cell itself uses (a name missing inside a function is a bug there: its traceback shows it).
        name = getattr(error, "name", None) or error
        return NameNotDefinedYet(f"{name} is not defined yet: its cell has not run, or stopped at an exercise "
                                 "not written yet.")
    return None


def _cell_stopped(error: BaseException, defines: tuple[str, ...] = (), namespace: dict | None = None) -> bool:
    """Called by a cell that raised ``error``: print why in one line and return ``True`` if the cell should end
    without an error (it needs an exercise not written yet, or a name such a cell left undefined), else ``False``.

    ``defines`` are the names the cell's own statements bind; those still missing from ``namespace`` (the
    notebook's) afterwards are remembered, so that a later cell needing one is told why it is missing.
    """
    exercise = _unwritten_exercise(error)
    missing_answers = isinstance(error, ModuleNotFoundError) and error.name == ANSWERS_MODULE
    left_undefined = isinstance(error, NameError) and getattr(error, "name", None) in _LEFT_UNDEFINED
    if exercise is not None:
        code = _innermost_code(error.__traceback__)
        if code is not None and Path(code.co_filename).name == f"{ANSWERS_MODULE}.py":
            _EARLIER_UNWRITTEN.setdefault(exercise)  # an earlier lesson's exercise, imported from my_unet
        else:
            _OUTCOMES.setdefault(exercise, "not written")
    elif missing_answers:
        _ANSWERS_MISSING.append(ANSWERS_MODULE)
    elif not left_undefined:
        return False
    _LEFT_UNDEFINED.update(name for name in defines if namespace is None or name not in namespace)
    shown = _shown(error) if not left_undefined else NameNotDefinedYet(
        f"{error.name} is not defined yet: its cell stopped at an exercise not written yet.")
    print("\n".join(shown._render_traceback_()))
    print("  (This cell stopped here; the cells after it still run.)")
    return True


def _bound_names(statements) -> set[str]:
    """The names a cell's statements bind in the notebook: assignments, imports, functions and classes (not
    what is bound inside the functions and classes they define)."""
    import ast

    names, pending = set(), list(statements)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        pending.extend(ast.iter_child_nodes(node))
    return names


class _GoOnPastUnwrittenExercises:
    """An IPython AST transformer: each cell runs inside ``try``, so that one that needs an unwritten exercise
    ends without an error (see :func:`_cell_stopped`) and Run All goes on; its last expression is still shown."""

    def visit(self, module):
        import ast

        body = module.body
        if not body or any(isinstance(node, ast.ImportFrom) and node.module == "__future__" for node in body):
            return module
        shown_last = isinstance(body[-1], ast.Expr)
        statements = body[:-1] + [ast.Assign([ast.Name("__unet_lib_last__", ast.Store())], body[-1].value)] \
            if shown_last else body
        defines = ast.Tuple([ast.Constant(name) for name in sorted(_bound_names(body))], ast.Load())
        stopped = ast.Call(ast.Name("__unet_lib_cell_stopped__", ast.Load()),
                           [ast.Name("__unet_lib_error__", ast.Load()), defines,
                            ast.Call(ast.Name("globals", ast.Load()), [], [])], [])
        handler = ast.ExceptHandler(ast.Name("BaseException", ast.Load()), "__unet_lib_error__",
                                    [ast.If(ast.UnaryOp(ast.Not(), stopped), [ast.Raise()], [])])
        shown = [ast.Expr(ast.Call(ast.Name("__unet_lib_display__", ast.Load()),
                                   [ast.Name("__unet_lib_last__", ast.Load())], []))] if shown_last else []
        wrapped = ast.Try(statements, [handler], shown, [])
        ast.copy_location(wrapped, body[0])
        module.body = [wrapped]
        return ast.fix_missing_locations(module)


def report_unwritten_exercises() -> None:
    """In a notebook, let cells that need an exercise not written yet say so in one line, and Run All go on.

    A lesson's setup cell calls this. From then on, in this IPython kernel:

    - a bare ``NotImplementedError()`` (an exercise's stub, met in any cell that uses it) reads
      "<function>: not written yet", naming the function whose stub raised it, and the cell ends there without
      an error, so that Run All goes on to the cells after it (those that need it say so in turn);
    - importing ``my_unet`` before an earlier lesson saved your answers to it reads that it is not there yet;
    - a ``NameError`` of a name that such a cell would have defined (met in a later cell or in a function it
      calls) reads "<name> is not defined yet", and that cell ends without an error too; any other missing
      name is a real error;
    - :func:`exercises_left` lists the exercises still to write.

    Every other error keeps its traceback and stops Run All. Under a grader (``NBGRADER_EXECUTION``) every
    error stays an error (a graded cell that fails must fail); only its rendering is one line. Outside IPython
    (a script, ``pytest``) this does nothing.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    for remembered in (_OUTCOMES, _ANSWERS_MISSING, _EARLIER_UNWRITTEN, _LEFT_UNDEFINED):
        remembered.clear()

    def one_line(shell, kind, error, traceback, tb_offset=None):
        shown = _shown(error)
        if shown is None:
            shell.showtraceback((kind, error, traceback), tb_offset)
        else:  # shown as an error (a notebook runner sees the cell fail), in its one-line rendering
            shell.showtraceback((type(shown), shown, traceback), tb_offset)

    shell.set_custom_exc((NotImplementedError, NameError, ModuleNotFoundError), one_line)
    shell.ast_transformers[:] = [transformer for transformer in shell.ast_transformers
                                 if not isinstance(transformer, _GoOnPastUnwrittenExercises)]
    if os.environ.get("NBGRADER_EXECUTION"):
        return
    shell.push({"__unet_lib_cell_stopped__": _cell_stopped,
                "__unet_lib_display__": lambda value: sys.displayhook(value)}, interactive=False)
    shell.ast_transformers.append(_GoOnPastUnwrittenExercises())


def not_written_message(exercise: str) -> str:
    """What a learner reads when ``exercise`` still raises ``NotImplementedError``."""
    return (f"{exercise}: not written yet (the cell still raises NotImplementedError).\n"
            "Replace `raise NotImplementedError()` with your code, run that cell, then this one.")


@dataclasses.dataclass(frozen=True)
class Case:
    """One input to a learner's function and the answer the reference gives for it.

    Attributes:
        label: how the case is named in feedback, e.g. ``"2x2 input, 2x2 kernel, stride 1"``.
        args: positional arguments passed to the learner's function.
        expected: the reference answer (an array, a number, a tuple...).
        kwargs: keyword arguments passed to the learner's function.
        mistakes: what a common mistake gives on this case, ``{"what the mistake is, in words": answer}``:
            an answer that differs from ``expected`` but equals one of these is told which mistake it is. Slips that
            give ``expected`` itself are dropped.
    """

    label: str
    args: tuple
    expected: Any
    kwargs: dict = dataclasses.field(default_factory=dict)
    mistakes: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        # A slip that gives the right answer on this case cannot be told apart from it here: keep only the others.
        if not isinstance(self.expected, Raises):
            wrong = {mistake: answer for mistake, answer in self.mistakes.items()
                     if describe_difference(answer, self.expected) is not None}
            object.__setattr__(self, "mistakes", wrong)


@dataclasses.dataclass(frozen=True)
class Raises:
    """The expected answer of a case whose inputs are wrong: the function must raise this exception type.

    Attributes:
        error: the exception's class name, e.g. ``"ValueError"``.
    """

    error: str


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
    with recorded_outcome(title, learner_function):
        for case in cases:
            if isinstance(case.expected, Raises):
                _verify_raises(title, learner_function, case)
                continue
            got = learner_answer(title, learner_function, case)
            difference = describe_difference(got, case.expected, rtol=rtol, atol=atol)
            if difference is not None:
                mistake = named_mistake(got, case, rtol=rtol, atol=atol)
                raise CheckFailed(case_differs_message(title, case.label, difference if mistake is None
                                                       else f"{mistake}\n{difference}"))
    print(f"✓ {title}: all {len(cases)} cases match the reference.")


def named_mistake(got: Any, case: Case, *, rtol: float = 1e-5, atol: float = 1e-6) -> str | None:
    """The common mistake (a key of ``case.mistakes``) whose answer ``got`` is, or ``None``."""
    for mistake, answer in case.mistakes.items():
        if describe_difference(got, answer, rtol=rtol, atol=atol) is None:
            return f"This is what {mistake} gives."
    return None


def _verify_raises(title: str, learner_function: Callable[..., Any], case: Case) -> None:
    """Pass if ``learner_function`` raises ``case.expected.error`` (or a subclass) on the case's inputs."""
    try:
        with no_library_answers(title, learner_function):
            learner_function(*case.args, **case.kwargs)
    except NotImplementedError:
        raise ExerciseNotWritten(title) from None
    except CheckFailed:
        raise
    except Exception as error:  # noqa: BLE001 - any error in learner code becomes feedback
        if case.expected.error in {kind.__name__ for kind in type(error).__mro__}:
            return
        raise CheckFailed(case_differs_message(title, case.label, f"expected {case.expected.error} to be raised, "
                                               f"got {type(error).__name__}: {error}")) from None
    raise CheckFailed(case_differs_message(title, case.label, f"expected {case.expected.error} to be raised, "
                                           "got an answer"))


def learner_answer(title: str, learner_function: Callable[..., Any], case: Case) -> Any:
    """Call ``learner_function`` on one case's inputs and return its answer.

    The call runs under :func:`no_library_answers`: an answer the course library computes is not the
    learner's.

    Raises:
        CheckFailed: if the function raises: "not written yet" for ``NotImplementedError``,
            otherwise the error's type and message; or if it calls the library's own functions.
    """
    with learner_errors(title, case.label), no_library_answers(title, learner_function):
        return learner_function(*case.args, **case.kwargs)


@contextlib.contextmanager
def learner_errors(title: str, label: str):
    """Turn an error raised by learner code in this block into feedback on case ``label``.

    Raises:
        ExerciseNotWritten: for ``NotImplementedError`` (the stub); :class:`CheckFailed` naming the error's type
            and message for any other error; a :class:`CheckFailed` itself passes through.
    """
    try:
        yield
    except NotImplementedError:
        raise ExerciseNotWritten(title) from None
    except CheckFailed:
        raise
    except Exception as error:  # noqa: BLE001 - any error in learner code becomes feedback
        raise CheckFailed(f"{title}: case '{label}' raised {type(error).__name__}: {error}") from None


PACKAGE_DIR = Path(__file__).resolve().parents[1]
"""The course library's folder: code in it (outside ``checks/`` and private modules) is the library's own."""

HELPERS_ALLOWED = frozenset({"check_input_size"})
"""Library functions an answer may call: they check arguments and compute no answer."""


@contextlib.contextmanager
def no_library_answers(exercise: str, learner_function: Callable[..., Any]):
    """Fail a check whose answer comes from the course library instead of the learner's own code.

    While the block runs, every call of a public library function (a module of the package outside
    ``checks/``, not a private ``_module``) is noted, with ``sys.setprofile``, which sees a function
    however it was imported or renamed. The reference itself (the library's function named
    ``exercise``, which the instructor's tests check) may call what it likes.

    Raises:
        CheckFailed: after the block, naming the first library function called, if any.
    """
    if getattr(learner_function, "__name__", None) == exercise and \
            _in_library(getattr(getattr(learner_function, "__code__", None), "co_filename", "")):
        yield
        return
    called = []
    in_library = {}  # file name -> whether it is the library's: the profiler runs on every call, keep it cheap

    def note_library_calls(frame, event, arg):
        if event != "call" or called:
            return
        code = frame.f_code
        path = code.co_filename
        if path not in in_library:
            in_library[path] = _in_library(path)
        if in_library[path] and not code.co_name.startswith(("_", "<")) and code.co_name not in HELPERS_ALLOWED:
            module = Path(path).resolve().relative_to(PACKAGE_DIR.parent).with_suffix("")
            called.append(f"{'.'.join(module.parts)}.{code.co_name}")

    previous = sys.getprofile()
    sys.setprofile(note_library_calls)
    try:
        yield
    finally:
        sys.setprofile(previous)
    if called:
        raise CheckFailed(f"{exercise}: the answer calls the course library's {called[0]}, which does the work "
                          f"this exercise asks of you; write {exercise} with NumPy or Keras yourself.")


def _in_library(path: str) -> bool:
    try:
        parts = Path(path).resolve().relative_to(PACKAGE_DIR).parts
    except ValueError:
        return False
    return parts[0] != "checks" and not parts[-1].startswith("_")


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
    path = RECORDED_DIR / f"{exercise}.pkl"
    if not path.is_file():
        raise ValueError(f"exercise must be one recorded with this release, got {exercise!r} (no {path})")
    with path.open("rb") as file:
        record = pickle.load(file)
    return [Case(c["label"], tuple(c["args"]), c["expected"], dict(c["kwargs"]), dict(c.get("mistakes", {})))
            for c in record["cases"]]
