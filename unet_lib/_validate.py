"""Argument checks shared across modules, without importing Keras (the command line loads modules lazily)."""

from __future__ import annotations

import numbers


def check_positive_int(name: str, value) -> int:
    """``value`` as an int, or a ValueError that names ``name`` and says what was expected.

    Example:
        >>> check_positive_int("n_filters", 0)
        Traceback (most recent call last):
        ...
        ValueError: n_filters must be a positive integer, got 0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)
