"""Train on every visible GPU when there are several, on the one device otherwise.

Data parallelism: each device holds a model copy and takes a slice of every batch, and the slices' gradients
are averaged before each update, as one device would with the whole batch. ``batch_size`` stays the *global*
batch (2 GPUs, ``batch_size=64``: 32 scenes each per step); multiply it by the replicas that
:func:`distribution_scope` yields to keep every GPU as busy as one was.

With more than one accelerator :func:`distribution_scope` uses ``tf.distribute.MirroredStrategy`` on TensorFlow
(build and compile the model inside the scope) or ``keras.distribution.DataParallel`` on JAX (GPUs or TPUs, set
as Keras's global distribution for the block, then restored). Otherwise (one GPU, a CPU, or PyTorch, which
would need ``torch.distributed`` with one process per GPU, beyond this course) it changes nothing. CPU cores
are never separate devices: the backends already use all cores for one step.
"""

from __future__ import annotations

import contextlib
import dataclasses

from unet_lib._keras import keras
from unet_lib.environment import list_gpus

MIRRORED, DATA_PARALLEL, SINGLE_DEVICE = "mirrored", "data_parallel", "single_device"
"""The three ways :func:`distribution_scope` can train, as :func:`_choose_plan` names them."""


@dataclasses.dataclass(frozen=True)
class _Plan:
    """How to train: ``kind`` (one of the three names above) and the accelerators found."""

    kind: str
    backend: str
    devices: tuple[str, ...]


def _accelerators(backend: str) -> list[str]:
    """The GPUs (for JAX also TPUs) the backend can use; empty on a CPU-only machine."""
    if backend == "jax":
        # Keras's names ("gpu:0", "tpu:3"), as DataParallel(devices=...) expects; the CPU is not split over.
        return [device for device in keras.distribution.list_devices() if not device.startswith("cpu")]
    return list_gpus()


def _choose_plan() -> _Plan:
    backend = keras.backend.backend()
    devices = tuple(_accelerators(backend))
    if len(devices) > 1 and backend == "tensorflow":
        return _Plan(MIRRORED, backend, devices)
    if len(devices) > 1 and backend == "jax":
        return _Plan(DATA_PARALLEL, backend, devices)
    return _Plan(SINGLE_DEVICE, backend, devices)


def _device_kind(device: str) -> str:
    # "gpu:0" -> "GPU"; TensorFlow's and torch's GPU names are all GPUs.
    return "TPU" if device.lower().startswith("tpu") else "GPU"


def describe_distribution() -> str:
    """How :func:`distribution_scope` would train on this machine and backend, in a few words.

    Returns:
        For example ``"single device: CPU"``, ``"single device: /physical_device:GPU:0"``, ``"MirroredStrategy
        over 2 GPUs"`` or ``"DataParallel over 8 TPUs"``; under PyTorch with several GPUs, that one is used.
    """
    plan = _choose_plan()
    if plan.kind == MIRRORED:
        return f"MirroredStrategy over {len(plan.devices)} GPUs"
    if plan.kind == DATA_PARALLEL:
        return f"DataParallel over {len(plan.devices)} {_device_kind(plan.devices[0])}s"
    if not plan.devices:
        return "single device: CPU"
    if len(plan.devices) > 1:  # torch: see the module docstring
        return (f"single device: {plan.devices[0]} ({len(plan.devices)} GPUs visible; the {plan.backend} "
                "backend trains on one here)")
    return f"single device: {plan.devices[0]}"


@contextlib.contextmanager
def distribution_scope():
    """A block in which to build, compile and fit a model on every visible accelerator.

    Data parallelism over all GPUs (TensorFlow: ``MirroredStrategy``; JAX: ``DataParallel``, also over TPUs)
    when there are several, nothing otherwise (see the module docstring and :func:`describe_distribution`).

    Yields:
        The number of model replicas, each taking a slice of every batch (1 on a single device): multiply
        the batch size by it to give each device the work one had.

    Example:
        >>> with distribution_scope() as replicas:  # replicas == 1 on a single device
        ...     model = unet_model((32, 32, 3), n_filters=4, n_classes=3, depth=2)
    """
    plan = _choose_plan()
    if plan.kind == MIRRORED:
        import tensorflow as tf  # only on this path: the other backends may not have it

        strategy = tf.distribute.MirroredStrategy()  # every visible GPU
        with strategy.scope():
            yield strategy.num_replicas_in_sync
    elif plan.kind == DATA_PARALLEL:
        previous = keras.distribution.distribution()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=list(plan.devices)))
        try:
            yield len(plan.devices)
        finally:
            # Restored even when the block fails, so later models in the session are not sharded.
            keras.distribution.set_distribution(previous)
    else:
        yield 1
