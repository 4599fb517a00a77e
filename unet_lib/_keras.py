"""The one place the library imports Keras: TensorFlow is loaded quietly first.

Modules that need Keras write ``from unet_lib._keras import keras``.
"""

import os

from unet_lib._quiet import import_tensorflow_quietly, native_stderr_silenced

import_tensorflow_quietly()

import keras  # noqa: E402


def _one_inter_op_thread_on_a_cpu() -> None:
    """Let TensorFlow run independent ops one after the other on a machine without a GPU.

    Each op still uses every core (intra-op threads); running independent ops side by side on top
    of that oversubscribes a small CPU. With one inter-op thread the course's U-Net trains about 40%
    faster on 2 cores (docs/BENCHMARKS.md). ``TF_NUM_INTEROP_THREADS``, when set, wins; so does a
    TensorFlow runtime already started before this import.
    """
    if keras.backend.backend() != "tensorflow" or "TF_NUM_INTEROP_THREADS" in os.environ:
        return
    import tensorflow as tf

    with native_stderr_silenced():  # looking for GPUs logs CUDA driver lines on a CPU-only machine
        has_gpu = bool(tf.config.list_physical_devices("GPU"))
    if not has_gpu:
        try:
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass  # the runtime is already initialised: its thread pools are fixed


_one_inter_op_thread_on_a_cpu()

__all__ = ["keras"]
