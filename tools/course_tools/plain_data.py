"""Plain data as JSON, both ways across the grading sandbox: numbers, strings, tuples, lists, dicts and arrays.

What crosses between the grader and a sandbox (the graded cases' inputs going in, a student's answers
coming out) is JSON written by :func:`encode` and read by :func:`decode`: no pickle, no object of any
other kind, bounded in size and depth. An array travels as its dtype (numbers and booleans only), shape
and raw bytes in base64. This file imports only the standard library and NumPy: the grader copies it
into the sandbox, where the course library is absent.
"""

from __future__ import annotations

import base64
import json

import numpy as np

MAX_DEPTH = 32
"""How deeply containers may nest; deeper data is refused (a parser's stack is not for a student to fill)."""
MAX_ARRAY_ITEMS = 2**24
"""The most items an array may hold (16 M: 128 MB of float64)."""
NUMERIC_KINDS = "biufc"
"""dtype kinds that may cross: booleans, integers, unsigned integers, floats and complex numbers."""


class NotPlainData(ValueError):
    """A value that is not plain data, or JSON that does not decode to it; the message says which part."""


def encode(value, depth: int = 0):
    """``value`` as JSON-ready data; raise :class:`NotPlainData` for anything that is not plain data.

    ``None``, booleans, integers, floats and strings stay as they are; a tuple becomes ``{"tuple": [...]}``,
    a dict ``{"dict": [[key, value], ...]}``, an array or NumPy scalar ``{"array": {"dtype", "shape", "base64"}}``.

    Example:
        >>> encode((1, "a", [2.5]))
        {'tuple': [1, 'a', [2.5]]}
    """
    if depth > MAX_DEPTH:
        raise NotPlainData(f"nested more than {MAX_DEPTH} levels deep")
    if value is None or isinstance(value, (bool, str)) or type(value) in (int, float):
        return value
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        if array.dtype.kind not in NUMERIC_KINDS:
            raise NotPlainData(f"an array of dtype {array.dtype} (only numbers and booleans can be graded)")
        array = np.array(array, order="C")  # not ascontiguousarray: it makes a scalar one-dimensional
        return {"array": {"dtype": array.dtype.str, "shape": list(array.shape),
                          "base64": base64.b64encode(array.tobytes()).decode("ascii")}}
    if type(value) in (tuple, list):
        items = [encode(item, depth + 1) for item in value]
        return {"tuple": items} if type(value) is tuple else items
    if type(value) is dict:
        return {"dict": [[encode(key, depth + 1), encode(item, depth + 1)] for key, item in value.items()]}
    raise NotPlainData(f"a {type(value).__name__}, which is not plain data (numbers, strings, tuples, lists, "
                       "dicts, arrays)")


def decode(data, depth: int = 0):
    """The value :func:`encode` made ``data`` from; raise :class:`NotPlainData` for anything else."""
    if depth > MAX_DEPTH:
        raise NotPlainData(f"nested more than {MAX_DEPTH} levels deep")
    if data is None or isinstance(data, (bool, str)) or type(data) in (int, float):
        return data
    if type(data) is list:
        return [decode(item, depth + 1) for item in data]
    if type(data) is dict and len(data) == 1:
        (kind, content), = data.items()
        if kind == "tuple" and type(content) is list:
            return tuple(decode(item, depth + 1) for item in content)
        if kind == "dict" and type(content) is list and all(type(pair) is list and len(pair) == 2 for pair in content):
            pairs = [(decode(key, depth + 1), decode(item, depth + 1)) for key, item in content]
            try:
                return dict(pairs)
            except TypeError:  # a key that cannot be hashed
                raise NotPlainData("a dict with a key that is not a number, string or tuple") from None
        if kind == "array" and type(content) is dict:
            return _decode_array(content)
    raise NotPlainData(f"JSON that no plain value encodes to: {str(data)[:80]}")


def _decode_array(content: dict) -> np.ndarray:
    try:
        dtype = np.dtype(content["dtype"])
        shape = tuple(content["shape"])
        raw = base64.b64decode(content["base64"], validate=True)
    except (KeyError, TypeError, ValueError) as error:
        raise NotPlainData(f"an array record that does not decode ({error})") from None
    if dtype.kind not in NUMERIC_KINDS or not all(type(side) is int and side >= 0 for side in shape):
        raise NotPlainData(f"an array of dtype {dtype} and shape {shape}")
    size = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if size > MAX_ARRAY_ITEMS or len(raw) != size * dtype.itemsize:
        raise NotPlainData(f"an array of shape {shape} with {len(raw)} bytes")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def dumps(value) -> str:
    """``value`` encoded, as one line of JSON."""
    return json.dumps(encode(value), separators=(",", ":"), allow_nan=True)


def loads(text: str | bytes):
    """The value one line of :func:`dumps` holds; :class:`NotPlainData` for anything else."""
    try:
        return decode(json.loads(text))
    except (ValueError, RecursionError) as error:
        if isinstance(error, NotPlainData):
            raise
        raise NotPlainData(f"text that is not JSON ({type(error).__name__})") from None
