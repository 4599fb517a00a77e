"""Train on every visible GPU when there are several, on the one device otherwise.

Data parallelism: each device holds a copy of the model and takes a slice of every batch, and
the gradients of all slices are averaged before each update, so one step gives the same update as
a single device would with the whole batch. ``batch_size`` in ``fit`` stays the *global* batch:
with 2 GPUs and ``batch_size=64`` each GPU sees 32 scenes per step. To keep every GPU as busy as
one was, multiply the batch size by the number of replicas that :func:`distribution_scope` yields.

What :func:`distribution_scope` does on each backend:

* TensorFlow with more than one GPU: ``tf.distribute.MirroredStrategy`` over all visible GPUs.
  The model must be built and compiled inside the scope; ``fit`` may run inside it too.
* JAX with more than one accelerator (GPU or TPU): ``keras.distribution.DataParallel`` over them,
  set as Keras's global distribution for the duration of the block; the previous one is restored
  after.
* Otherwise (one GPU, a CPU only, or the PyTorch backend): nothing to do, the scope changes
  nothing. Multi-GPU training with PyTorch needs ``torch.distributed`` with one process per GPU,
  which is out of scope for this course: under torch the model uses a single device.

CPU cores are never treated as separate devices: the backends already use all cores for one step.

Example:
    >>> print(describe_distribution())  # on a laptop
    single device: CPU
    >>> with distribution_scope() as replicas:  # doctest: +SKIP
    ...     model = unet_model((64, 64, 3), n_filters=8, n_classes=3)
    ...     model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ...     model.fit(images, masks, batch_size=8 * replicas)
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
        # Keras's own names ("gpu:0", "tpu:3"), which is what DataParallel(devices=...) expects;
        # with no accelerator it lists the CPU, which we do not split a batch over.
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
        For example ``"single device: CPU"``, ``"single device: /physical_device:GPU:0"``,
        ``"MirroredStrategy over 2 GPUs"`` or ``"DataParallel over 8 TPUs"``. Under PyTorch with
        several GPUs it says that only the first is used.
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

    Chooses data parallelism over all GPUs (TensorFlow: ``MirroredStrategy``; JAX:
    ``DataParallel``, also over TPUs) when there are several, and does nothing otherwise; see the
    module docstring. :func:`describe_distribution` says which, without entering the block.

    Yields:
        The number of model replicas, each taking a slice of every batch (1 on a single device):
        multiply the batch size by it to give each device the work one had.

    Example:
        >>> with distribution_scope() as replicas:
        ...     model = unet_model((32, 32, 3), n_filters=4, n_classes=3, depth=2)
        >>> replicas
        1
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
