"""Call a student's functions on the graded cases, inside the grading sandbox, and print what they return.

Run by :mod:`course_tools.grade` in a sandbox of its own (:mod:`course_tools.sandbox`), as
``python -I harness.py JOB_JSON``, with :mod:`course_tools.plain_data` beside it. The job names the
submission's code cells, the functions to call and each graded case's inputs, never the expected answers:
those stay with the grader, which compares. What this prints (one JSON line, :func:`plain_data.dumps`) is
the student's claim about its own functions, whatever the student's code did to this process.

How the functions come to exist, without running the lesson:

- a cell that defines one of the graded functions (an answer cell) runs whole, magics included (each
  statement on its own: one that raises costs that statement only);
- every other cell contributes only its imports, functions, classes and assignments of literal values,
  so that helper functions and constants a student wrote are there, but no lesson's training runs;
- the course library is not there: ``import unet_lib.anything`` gives a module whose every name is a
  stand-in that raises :class:`LibraryNotAvailable` when called, so an answer that calls the library
  gets nothing from it. Only the package's private helper modules (``_keras`` and the like, which
  compute no answers) and its ``checks`` (the student copy's, to summarise what a Keras block or
  model computes) are real, and so are the names the package exports from them (``from unet_lib import keras``);
  the job's ``library_dir`` holds just those files and the package's ``__init__.py``, read, never run.
"""

from __future__ import annotations

import ast
import importlib.abc
import importlib.machinery
import json
import os
import re
import sys
import types

try:
    from course_tools import plain_data
except ImportError:  # in the sandbox, where the course's package is absent and plain_data.py lies beside this file
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import plain_data

MAX_MESSAGE = 300
"""Characters of an error message kept."""


class LibraryNotAvailable(RuntimeError):
    """A call of the course library while grading: the answer must compute its result itself."""


class _Unavailable:
    """A stand-in for a name of the course library: any attribute is another stand-in; a call raises."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attribute: str):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return _Unavailable(f"{self._name}.{attribute}")

    def __call__(self, *args, **kwargs):
        raise LibraryNotAvailable(f"{self._name} is not available while grading: the answer must compute "
                                  "its result itself, not with the course library")

    def __repr__(self):
        return f"<{self._name}, not available while grading>"


class _StandInModule(types.ModuleType):
    real_exports: dict = {}
    """Name -> module, for the names the package exports from its real modules (``keras`` from ``_keras``)."""

    def __getattr__(self, attribute: str):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        if attribute in self.real_exports:
            return getattr(importlib.import_module(self.real_exports[attribute]), attribute)
        return _Unavailable(f"{self.__name__}.{attribute}")


def _real_exports(package: str, package_dir: str) -> dict[str, str]:
    """The names the package's ``__init__.py`` exports (its ``_EXPORTS = {name: module}``, read, never run) from a
    private module or its ``checks``: the modules that are real here."""
    try:
        with open(os.path.join(package_dir, "__init__.py"), encoding="utf-8") as file:
            tree = ast.parse(file.read())
    except (OSError, SyntaxError):
        return {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(target, "id", None) for target in node.targets] == ["_EXPORTS"]:
            try:
                exports = ast.literal_eval(node.value)
            except ValueError:
                return {}
            return {name: module for name, module in exports.items() if isinstance(module, str)
                    and module.startswith(package + ".")
                    and (module.split(".")[1].startswith("_") or module.split(".")[1] == "checks")}
    return {}


class _LibraryStandIns(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serve the course package and each of its modules that ``library_dir`` does not hold as stand-ins."""

    def __init__(self, package: str, library_dir: str):
        self.package, self.package_dir = package, os.path.join(library_dir, package)

    def find_spec(self, fullname, path=None, target=None):
        if fullname == self.package:
            spec = importlib.machinery.ModuleSpec(fullname, self, is_package=True)
            spec.submodule_search_locations = [self.package_dir]
            return spec
        if fullname.startswith(self.package + "."):
            real = importlib.machinery.PathFinder.find_spec(fullname, path)
            return real or importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _StandInModule(spec.name)
        module.__path__ = list(spec.submodule_search_locations or [])
        if spec.name == self.package:
            module.real_exports = _real_exports(self.package, self.package_dir)
        return module

    def exec_module(self, module):
        pass


def _plain_assignment(node) -> bool:
    value = getattr(node, "value", None)
    if not isinstance(node, (ast.Assign, ast.AnnAssign)) or value is None:
        return False
    try:
        ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


KEPT = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
"""What a cell that defines no graded function contributes (with assignments of literal values)."""


def _defined_names(tree: ast.Module) -> set[str]:
    return {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def define_functions(cells: list[str], functions: set[str], namespace: dict) -> list[str]:
    """Run the cells as the module docstring says; return one line per statement of an answer cell that raised.

    Each top-level statement runs on its own, so that a magic this process cannot run (``%matplotlib``) or a
    broken line costs that statement only, not the functions defined after it.
    """
    from IPython.core.inputtransformer2 import TransformerManager

    transformer, problems = TransformerManager(), []
    for index, source in enumerate(cells):
        try:
            tree = ast.parse(transformer.transform_cell(source))
        except (SyntaxError, ValueError, MemoryError, RecursionError) as error:
            problems.append(f"cell {index}: {type(error).__name__}")
            continue
        # A cell magic (%%time) hides its body in a string: its definitions are read from the source itself.
        answer = bool(_defined_names(tree) & functions) or any(
            re.search(rf"^def {re.escape(name)}\(", source, re.MULTILINE) for name in functions)
        for node in tree.body:
            if not (answer or isinstance(node, KEPT) or _plain_assignment(node)):
                continue
            try:
                exec(compile(ast.Module([node], []), f"<cell {index}>", "exec"), namespace)  # noqa: S102
            except Exception as error:  # noqa: BLE001 - a broken line costs only what it defines
                if answer:  # the lesson's own cells, cut down to their definitions, may miss what they use
                    problems.append(f"cell {index}, line {node.lineno}: {type(error).__name__}: "
                                    f"{str(error)[:MAX_MESSAGE]}")
    return problems


def _call(kind: str, title: str, function, case: dict):
    """What ``function`` gives for one case, as plain data: a value, or what the Keras block or model it builds
    computes (the summary of ``<package>.checks.model.summarise``, which the self-check compares too)."""
    args, kwargs = case["args"], case["kwargs"]
    if kind == "call":
        return function(*args, **kwargs)
    if kind not in ("block", "model"):
        raise ValueError(f"kind must be 'call', 'block' or 'model', got {kind!r}")
    from importlib import import_module

    return import_module(f"{case['package']}.checks.model").summarise(kind, title, function, kwargs)


def outcome(kind: str, title: str, function, case: dict) -> dict:
    """``{"value": ...}``, ``{"raised": type, "message": ...}`` or ``{"not_plain": why}`` for one case."""
    try:
        value = _call(kind, title, function, case)
    except Exception as error:  # noqa: BLE001 - what an answer raises is part of its answer
        return {"raised": type(error).__name__, "message": str(error)[:MAX_MESSAGE]}
    try:
        plain_data.encode(value)
    except plain_data.NotPlainData as error:
        return {"not_plain": str(error)[:MAX_MESSAGE]}
    return {"value": value}


def main(job_path: str) -> None:
    result_fd = os.dup(1)  # what the student's code prints goes to stderr, not into the result
    os.dup2(2, 1)
    with open(job_path, encoding="utf-8") as file:
        job = plain_data.decode(json.load(file))
    sys.path.insert(0, job["library_dir"])
    sys.meta_path.insert(0, _LibraryStandIns(job["package"], job["library_dir"]))
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()  # for the magics of the cells (get_ipython().run_line_magic(...))
    namespace = shell.user_ns
    namespace["get_ipython"] = lambda: shell
    functions = {exercise["function"] for exercise in job["exercises"]}
    problems = define_functions(job["cells"], functions, namespace)
    results = {}
    for exercise in job["exercises"]:
        function = namespace.get(exercise["function"])
        if not callable(function):
            results[exercise["name"]] = [{"missing": exercise["function"]}] * len(exercise["cases"])
            continue
        results[exercise["name"]] = [outcome(exercise["kind"], exercise["name"], function,
                                             {**case, "package": job["package"]}) for case in exercise["cases"]]
    line = plain_data.dumps({"results": results, "problems": problems[:50]})
    with os.fdopen(result_fd, "wb") as result:
        result.write(line.encode("utf-8") + b"\n")
    os._exit(0)  # no atexit hook of the student's runs after the result


if __name__ == "__main__":
    main(sys.argv[1])
