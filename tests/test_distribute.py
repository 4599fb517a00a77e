"""Data parallelism with fallback: what runs on this CPU for real, and which branch is chosen elsewhere.

This machine has no GPU, so the multi-device branches are checked by giving the chooser a list
of GPUs (or a backend name) it would have found there; only the single-device path trains for real.
"""

import numpy as np
import pytest

import unet_lib
from unet_lib import distribute, keras
from unet_lib.distribute import describe_distribution, distribution_scope
from unet_lib.environment import list_gpus
from unet_lib.reference.model import unet_model

TWO_GPUS = ["/physical_device:GPU:0", "/physical_device:GPU:1"]


def test_exported_from_the_package():
    assert unet_lib.distribution_scope is distribution_scope
    assert unet_lib.describe_distribution is describe_distribution


@pytest.mark.skipif(bool(list_gpus()), reason="this machine has a GPU: the CPU fallback is not what runs")
def test_on_a_cpu_the_scope_changes_nothing_and_a_model_built_inside_trains():
    assert describe_distribution() == "single device: CPU"
    distribution_before = keras.distribution.distribution()
    unet_lib.set_seed(0)
    images, masks = unet_lib.make_shapes_dataset(16, (16, 16), seed=0)
    with distribution_scope() as replicas:
        model = unet_model((16, 16, 3), n_filters=4, n_classes=3, depth=2, dropout_prob=0.0)
        model.compile(optimizer=keras.optimizers.Adam(1e-2),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        weights_before = [w.copy() for w in model.get_weights()]
        losses = model.fit(images, masks, batch_size=8 * replicas, epochs=2, verbose=0).history["loss"]
    assert replicas == 1
    assert all(np.isfinite(losses))
    assert any(not np.array_equal(a, b) for a, b in zip(weights_before, model.get_weights(), strict=True))
    assert keras.distribution.distribution() is distribution_before


def test_several_tensorflow_gpus_choose_mirrored_strategy(monkeypatch):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("checks the TensorFlow branch")
    monkeypatch.setattr(distribute, "list_gpus", lambda: TWO_GPUS)
    assert describe_distribution() == "MirroredStrategy over 2 GPUs"
    monkeypatch.setattr(distribute, "list_gpus", lambda: TWO_GPUS[:1])
    assert describe_distribution() == "single device: /physical_device:GPU:0"


def test_tensorflow_branch_enters_a_mirrored_strategy(monkeypatch):
    # With no real GPU, MirroredStrategy() falls back to one CPU replica; this checks our wiring
    # (the strategy is active inside the block and the model adopts it), not multi-GPU speed.
    if keras.backend.backend() != "tensorflow":
        pytest.skip("checks the TensorFlow branch")
    import tensorflow as tf

    monkeypatch.setattr(distribute, "list_gpus", lambda: TWO_GPUS)
    with distribution_scope() as replicas:
        assert tf.distribute.has_strategy()
        strategy = tf.distribute.get_strategy()
        assert isinstance(strategy, tf.distribute.MirroredStrategy)
        assert replicas == strategy.num_replicas_in_sync >= 1
        model = unet_model((16, 16, 3), n_filters=4, n_classes=3, depth=2)
    assert isinstance(model.distribute_strategy, tf.distribute.MirroredStrategy)
    assert not tf.distribute.has_strategy()


def test_torch_with_several_gpus_uses_one(monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    monkeypatch.setattr(distribute, "list_gpus", lambda: ["NVIDIA A100", "NVIDIA A100"])
    assert describe_distribution().startswith("single device: NVIDIA A100 (2 GPUs visible; the torch backend")
    with distribution_scope() as replicas:
        assert replicas == 1


class _RecordedDataParallel:
    """Stands in for keras.distribution.DataParallel: JAX is not installed here."""

    def __init__(self, devices):
        self.devices = devices


def test_jax_with_several_gpus_sets_data_parallel_and_restores_the_previous_distribution(monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    monkeypatch.setattr(keras.distribution, "list_devices", lambda: ["gpu:0", "gpu:1", "gpu:2"])
    monkeypatch.setattr(keras.distribution, "DataParallel", _RecordedDataParallel)
    current = {"value": "previous"}
    monkeypatch.setattr(keras.distribution, "distribution", lambda: current["value"])
    monkeypatch.setattr(keras.distribution, "set_distribution", lambda value: current.update(value=value))

    assert describe_distribution() == "DataParallel over 3 GPUs"
    with distribution_scope() as replicas:
        assert isinstance(current["value"], _RecordedDataParallel)
        assert current["value"].devices == ["gpu:0", "gpu:1", "gpu:2"]
    assert replicas == 3 and current["value"] == "previous"
    with pytest.raises(RuntimeError, match="inside"), distribution_scope():
        raise RuntimeError("failed inside the block")
    assert current["value"] == "previous"


def test_jax_on_a_cpu_is_a_single_device(monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    monkeypatch.setattr(keras.distribution, "list_devices", lambda: ["cpu:0"])
    assert describe_distribution() == "single device: CPU"
