"""Carry your answers from one lesson to the next: ``save_answers`` writes your functions to ``my_unet.py``.

Lesson 03's decoder step and lesson 04's encoder step and U-Net are graded where you write them, once. The
lessons after them import yours (``from my_unet import unet_model``) instead of asking you to paste them again.
``my_unet.py`` lies beside the lessons; saving a function again replaces it there and keeps the others.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from pathlib import Path

ANSWERS_MODULE = "my_unet"
"""The module your answers are saved to, beside the lessons."""

HEADER = '''"""Your answers, saved by the lessons (unet_lib.save_answers) for the lessons after them."""

import numpy as np

from unet_lib import keras
'''
"""What the module starts with: the imports an answer of the course may use."""

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
"""The lines around an exercise's answer in a lesson cell (nbgrader's markers); the course's tools use these too."""


def answers_module_source(functions: dict[str, str]) -> str:
    """The text of ``my_unet.py`` holding ``functions`` (name -> its ``def``'s source), in that order.

    Lines that are only a solution marker are left out.
    """
    bodies = ["\n".join(line for line in textwrap.dedent(source).rstrip().splitlines()
                        if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION)) for source in functions.values()]
    return HEADER + "".join(f"\n\n{body}\n" for body in bodies)


def saved_functions(path: Path) -> dict[str, str]:
    """Name -> source of each top-level function in the module at ``path``; empty if there is none."""
    if not path.is_file():
        return {}
    text = path.read_text(encoding="utf-8")
    return {node.name: ast.get_source_segment(text, node) for node in ast.parse(text).body
            if isinstance(node, ast.FunctionDef)}


def save_answers(*functions, folder: str | Path = ".") -> Path:
    """Save your ``functions`` to ``folder/my_unet.py`` for the lessons after this one, replacing earlier versions.

    Args:
        functions: functions you wrote in a notebook cell (or imported from ``my_unet``).
        folder: where to write; the lessons' own folder by default (a notebook runs there).

    Returns:
        The path written.

    Raises:
        ValueError: if no function is given, or one of ``functions`` is not a function whose source Python can read.
    """
    if not functions:
        raise ValueError("functions must name at least one function to save, got none")
    path = Path(folder) / f"{ANSWERS_MODULE}.py"
    saved = saved_functions(path)
    for function in functions:
        try:
            saved[function.__name__] = inspect.getsource(function)
        except (AttributeError, OSError, TypeError):
            raise ValueError(f"functions must be functions you defined, got {function!r}") from None
    path.write_text(answers_module_source(saved), encoding="utf-8")
    names = ", ".join(function.__name__ for function in functions)
    print(f"Saved {names} to {path.name}:\n  the next lessons import them with `from {ANSWERS_MODULE} import ...`.")
    return path
