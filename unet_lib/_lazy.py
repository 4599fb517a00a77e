"""Names a package loads on first use, so importing it stays fast and Keras loads only when needed."""

from __future__ import annotations

import importlib


def lazy_exports(package: str, exports: dict[str, str], namespace: dict):
    """``__getattr__`` and ``__dir__`` for a package whose public names live in its modules.

    Args:
        package: the package's name, for error messages, e.g. ``"unet_lib"``.
        exports: public name -> the module that defines it.
        namespace: the package's ``globals()``; a name is cached there once loaded.

    Returns:
        ``(__getattr__, __dir__)`` to assign at the package's top level.
    """

    def __getattr__(name: str):
        try:
            module_name = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module_name), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
