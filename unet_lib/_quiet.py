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


def import_tensorflow_quietly() -> None:
    """Import TensorFlow once with its start-up lines hidden, if it is installed, whatever the backend.

    Under the JAX and PyTorch backends Keras still imports TensorFlow when it is installed, lazily
    and unsilenced: ``keras.utils.set_random_seed`` seeds it too, and saving a model checks for its
    types. Importing it here first, quietly, keeps those start-up lines out of a torch or jax lesson.
    """
    configure_tensorflow_logging()
    if "tensorflow" in sys.modules:
        return
    if importlib.util.find_spec("tensorflow") is None:
        return  # Keras will report the missing backend itself, with its own clear message.
    with native_stderr_silenced():
        import tensorflow  # noqa: F401
