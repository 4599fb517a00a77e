"""Keep TensorFlow's native (C++) log lines out of lessons and test output.

``TF_CPP_MIN_LOG_LEVEL`` silences TensorFlow's own logging, but some lines are written by absl and
the CUDA stubs straight to file descriptor 2 while the shared libraries load, before any Python
setting applies ("All log messages before absl::InitializeLog() ...", "Could not find cuda
drivers ..."). The only reliable way to hide those is to point descriptor 2 at ``/dev/null`` while
TensorFlow is first imported, then put it back, which is what :func:`import_tensorflow_quietly`
does.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys


def configure_tensorflow_logging() -> None:
    """Set the environment so TensorFlow logs only errors, unless the user chose otherwise."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def native_stderr_silenced():
    """Send everything written to file descriptor 2 to ``/dev/null`` inside the block."""
    sys.stderr.flush()
    saved_fd = os.dup(2)
    devnull_fd = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull_fd, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
        os.close(devnull_fd)


def selected_backend() -> str:
    """The Keras backend the next ``import keras`` will choose, read the way Keras reads it.

    ``KERAS_BACKEND`` wins; otherwise ``keras.json`` in ``KERAS_HOME`` (default ``~/.keras``);
    otherwise TensorFlow. Known before Keras is imported, so TensorFlow can be left unloaded.
    """
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    config = os.path.join(os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras")), "keras.json")
    try:
        with open(config, encoding="utf-8") as file:
            return str(json.load(file).get("backend", "tensorflow"))
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def import_tensorflow_quietly() -> None:
    """Import TensorFlow once with its start-up lines hidden, if it is installed.

    Called only under the TensorFlow backend: under JAX and PyTorch the course never loads
    TensorFlow (see :mod:`unet_lib._keras`).
    """
    configure_tensorflow_logging()
    if "tensorflow" in sys.modules:
        return
    if importlib.util.find_spec("tensorflow") is None:
        return  # Keras will report the missing backend itself, with its own clear message.
    with native_stderr_silenced():
        import tensorflow  # noqa: F401
