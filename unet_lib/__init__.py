"""unet_lib: the tested reference implementation behind the U-Net course lessons.

Everything a lesson uses is importable from here, e.g. ``from unet_lib import set_seed``. Names are
loaded on first use, so ``import unet_lib`` (and ``python -m unet_lib --help``) stays fast and
Keras is imported only by the parts that need it, always through :mod:`unet_lib._keras`, which
keeps TensorFlow's native log lines out of the output.
"""

from __future__ import annotations

import importlib

from unet_lib._quiet import configure_tensorflow_logging

configure_tensorflow_logging()

__version__ = "0.1.0"

# Public name -> the module that defines it. Add a line here when a module gains a public name.
_EXPORTS = {
    "CheckFailed": "unet_lib.checks",
    "check_one_hot": "unet_lib.checks",
    "check_versions": "unet_lib.environment",
    "course_map_markdown": "unet_lib.course",
    "describe_environment": "unet_lib.environment",
    "GPU_ADVICE": "unet_lib.environment",
    "list_gpus": "unet_lib.environment",
    "list_lessons": "unet_lib.course",
    "one_hot": "unet_lib.masks",
    "set_seed": "unet_lib.environment",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    try:
        module_name = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'unet_lib' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
