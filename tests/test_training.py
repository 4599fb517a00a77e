"""Training configuration, class weights, evaluation and the ``train`` verb (tiny, fast settings)."""

import dataclasses
import json

import numpy as np
import pytest

from unet_lib import keras
from unet_lib.data import HELD_OUT_SEED, make_shapes_dataset
from unet_lib.inference import predict_masks
from unet_lib.metrics import balanced_class_weights, evaluate_segmentation, pixel_weights
from unet_lib.training import CPU_CONFIG, GPU_CONFIG, TrainingConfig, build_training_model, default_config, train_unet

TINY = TrainingConfig(image_size=(32, 32), n_filters=4, depth=2, n_train=64, n_held_out=16, epochs=2,
                      batch_size=16, learning_rate=1e-2)


def test_hardware_picks_the_configuration():
    assert default_config(gpus=[]) is CPU_CONFIG
    assert default_config(gpus=["/physical_device:GPU:0"]) is GPU_CONFIG
    assert not CPU_CONFIG.jit_compile and CPU_CONFIG.mixed_precision is None
    assert GPU_CONFIG.jit_compile and GPU_CONFIG.mixed_precision in {"mixed_float16", "mixed_bfloat16"}
    assert GPU_CONFIG.image_size[0] > CPU_CONFIG.image_size[0] and GPU_CONFIG.n_filters > CPU_CONFIG.n_filters
    for config in (CPU_CONFIG, GPU_CONFIG):
        assert all(side % 2**config.depth == 0 for side in config.image_size)


@pytest.mark.parametrize(
    ("change", "message"),
    [({"epochs": 0}, "epochs must be a positive integer"), ({"learning_rate": -1.0}, "learning_rate must be"),
     ({"warmup_fraction": 1.0}, "warmup_fraction must be in"), ({"dice_weight": -0.5}, "dice_weight must be"),
     ({"seed": -1}, "seed must be a non-negative integer"), ({"seed": 1.5}, "seed must be a non-negative integer")],
)
def test_config_rejects_bad_values(change, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(TINY, **change)


def test_mixed_precision_model_keeps_float32_logits_and_restores_the_policy():
    config = dataclasses.replace(TINY, mixed_precision="mixed_float16")
    model = build_training_model(config, steps=4)
    assert model.get_layer("encoder1_conv1").compute_dtype == "float16"
    assert model.get_layer("logits").compute_dtype == "float32"
    assert keras.config.dtype_policy().name == "float32"


def test_training_model_adds_the_configured_dice_term():
    from unet_lib.metrics import CrossEntropyDiceLoss

    model = build_training_model(dataclasses.replace(TINY, dice_weight=1.5), steps=4)
    assert isinstance(model.loss, CrossEntropyDiceLoss) and model.loss.dice_weight == 1.5
    assert CPU_CONFIG.dice_weight > 0


def test_balanced_class_weights_and_pixel_weights():
    masks = np.array([[[0, 0, 0, 1]]])
    weights = balanced_class_weights(masks, 3)  # class 2 absent
    np.testing.assert_allclose(weights, [2 / 3, 2.0, 0.0], rtol=1e-6)
    per_pixel = pixel_weights(masks, weights)
    assert per_pixel.shape == masks.shape and per_pixel.dtype == np.float32
    assert per_pixel.mean() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="class_weights must be a 1-D list"):
        pixel_weights(masks, [[1.0, 2.0]])
    with pytest.raises(ValueError, match=r"masks labels must lie in \[0, 2\)"):
        pixel_weights(np.array([[2]]), [1.0, 1.0])


def test_evaluation_summary():
    truth = np.array([[[0, 0, 1, 2]]])
    predicted = np.array([[[0, 1, 1, 2]]])
    summary = evaluate_segmentation(truth, predicted, 3)
    assert summary["pixel_accuracy"] == pytest.approx(0.75)
    np.testing.assert_allclose(summary["iou_per_class"], [0.5, 0.5, 1.0])
    assert summary["mean_iou"] == pytest.approx(2 / 3)
    assert summary["confusion_matrix"] == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    json.dumps(summary)  # plain data, ready for the CLI's JSON line


def test_predict_masks_on_a_batch_and_a_single_image():
    model = build_training_model(TINY, steps=1)
    images = np.random.default_rng(0).random((3, 32, 32, 3), dtype=np.float32)
    batch = predict_masks(model, images)
    assert batch.shape == (3, 32, 32) and batch.dtype == np.int32
    np.testing.assert_array_equal(predict_masks(model, images[1]), batch[1])
    with pytest.raises(ValueError, match="images must be"):
        predict_masks(model, images[0, :, :, 0])


def test_predict_masks_feeds_the_model_one_batch_shape_only():
    """One input shape, so TensorFlow traces the forward pass once: 70 images, then single ones, all in 16s."""
    model = build_training_model(TINY, steps=1)
    shapes = []
    predict_on_batch = model.predict_on_batch
    model.predict_on_batch = lambda batch: shapes.append(batch.shape) or predict_on_batch(batch)
    images = np.random.default_rng(0).random((70, 32, 32, 3), dtype=np.float32)
    batch = predict_masks(model, images)  # four full chunks and a padded one
    for index in (0, 69):
        np.testing.assert_array_equal(predict_masks(model, images[index]), batch[index])
    assert set(shapes) == {(16, 32, 32, 3)} and len(shapes) == 5 + 2
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        predict_masks(model, images, batch_size=0)


def test_training_prints_one_line_per_epoch_numbered_out_of_all(capsys):
    """train_unet calls fit once per epoch; the lines still read epoch 1/N ... N/N, with the scores."""
    config = dataclasses.replace(TINY, n_train=16, epochs=3)
    train_unet(config, verbose=1)
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    for line in lines:
        assert "loss" in line and "held out: loss" in line and "mean IoU" in line, line
        assert "Epoch" not in line  # Keras's own per-call labels stay out
    train_unet(dataclasses.replace(config, epochs=1), verbose=0)
    assert capsys.readouterr().out == ""


def test_epoch_progress_leaves_out_what_the_model_does_not_log(capsys):
    from unet_lib.training import EpochProgress

    progress = EpochProgress(2, prefix="small: ")
    progress.on_epoch_begin(1)
    progress.on_epoch_end(1, {"loss": np.float32(0.25)})
    assert capsys.readouterr().out.startswith("small: epoch 2/2: loss 0.250 (")
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        EpochProgress(0)


def test_epoch_progress_can_say_when_the_first_batch_is_done(capsys):
    # A long first epoch (compiling the step, then the batches) otherwise shows nothing for a minute.
    from unet_lib.training import EpochProgress

    progress = EpochProgress(12, first_batch=True)
    progress.on_epoch_begin(0)
    progress.on_train_batch_end(0)
    progress.on_train_batch_end(1)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("epoch 1/12: first batch done (")
    quiet = EpochProgress(12)
    quiet.on_epoch_begin(0)
    quiet.on_train_batch_end(0)
    assert capsys.readouterr().out == ""


def test_short_training_run_lowers_the_loss():
    run = train_unet(TINY, verbose=0)
    losses = run.history["loss"]
    assert len(losses) == TINY.epochs and losses[-1] < losses[0]
    assert {"val_loss", "mean_iou", "val_mean_iou"} <= set(run.history)
    assert run.train_seconds > 0 and run.cpu_seconds > 0
    assert run.images_per_second == pytest.approx(TINY.n_train * TINY.epochs / run.train_seconds)
    images, masks = run.held_out
    assert images.shape == (16, 32, 32, 3) and masks.shape == (16, 32, 32)


def test_the_seed_decides_the_run_and_never_draws_the_held_out_scenes():
    config = dataclasses.replace(TINY, n_train=16, epochs=1)
    first, again, other = (train_unet(dataclasses.replace(config, seed=seed), verbose=0) for seed in (0, 0, 1))
    np.testing.assert_array_equal(first.held_out[0], other.held_out[0])  # held-out scenes: seed-independent
    assert first.history["loss"] == again.history["loss"] != other.history["loss"]
    with pytest.raises(ValueError, match="clear of the held-out seed 10000, got seed 9999 with 2 epochs"):
        train_unet(dataclasses.replace(TINY, seed=HELD_OUT_SEED - 1), verbose=0)


def test_pixel_weights_work_as_fit_sample_weights():
    """Keras accepts a per-pixel (N, H, W) sample_weight for dense targets; class_weight it does not."""
    config = dataclasses.replace(TINY, epochs=1)
    model = build_training_model(config, steps=2)
    images = np.random.default_rng(0).random((8, 32, 32, 3), dtype=np.float32)
    masks = np.random.default_rng(1).integers(0, 3, (8, 32, 32)).astype(np.int32)
    history = model.fit(images, masks, sample_weight=pixel_weights(masks, [0.5, 1.0, 2.0]), batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    with pytest.raises((TypeError, ValueError)):
        model.fit(images, masks, class_weight={0: 0.5, 1: 1.0, 2: 2.0}, batch_size=4, verbose=0)


def test_train_unet_on_given_arrays_and_batches():
    from unet_lib import split_held_out
    from unet_lib.data import ShapesBatches

    images, masks = make_shapes_dataset(40, (32, 32), seed=3)
    (train_images, train_masks), held_out = split_held_out(images, masks, fraction=0.2, seed=1)
    assert len(train_images) == 32 and len(held_out[0]) == 8
    assert not set(map(bytes, held_out[0])) & set(map(bytes, train_images))
    config = dataclasses.replace(TINY, epochs=2)
    run = train_unet(config, train_data=(train_images, train_masks), held_out=held_out, verbose=0)
    assert len(run.history["loss"]) == 2 and run.held_out[0].shape == (8, 32, 32, 3)
    assert run.images_per_second == pytest.approx(2 * 32 / run.train_seconds)
    batches = ShapesBatches(train_images, train_masks, batch_size=config.batch_size, seed=0)
    run = train_unet(config, train_data=batches, held_out=held_out, verbose=0)
    assert run.images_per_second == pytest.approx(2 * 32 / run.train_seconds)
    with pytest.raises(ValueError, match="train_data and held_out go together"):
        train_unet(config, train_data=(train_images, train_masks))
    with pytest.raises(ValueError, match=r"train_data images must have shape \(N, 32, 32, C\)"):
        train_unet(config, train_data=make_shapes_dataset(8, (16, 16)), held_out=held_out)
    with pytest.raises(ValueError, match="fraction must be in"):
        split_held_out(images, masks, fraction=1.5)


def test_class_weights_to_a_power_keep_the_mean_pixel_weight_at_one():
    masks = np.array([[[0, 0, 0, 1]]])
    half = balanced_class_weights(masks, 2, power=0.5)
    assert half[1] / half[0] == pytest.approx(np.sqrt(3))  # the full weights' ratio is 3
    assert pixel_weights(masks, half).mean() == pytest.approx(1.0)
    np.testing.assert_allclose(balanced_class_weights(masks, 2, power=0), [1.0, 1.0])
    with pytest.raises(ValueError, match="power must be a number >= 0"):
        balanced_class_weights(masks, 2, power=-1)
    with pytest.raises(ValueError, match="class_weighting must be a number >= 0"):
        TrainingConfig(class_weighting=-0.5)


def test_under_nbgrader_training_runs_on_a_token_budget(monkeypatch):
    from unet_lib.environment import grading_run
    from unet_lib.training import CPU_CONFIG, GRADING_BUDGET, default_config, within_grading_budget

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert not grading_run() and default_config([]) == CPU_CONFIG
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    budgeted = default_config([])
    assert grading_run() and (budgeted.n_train, budgeted.n_held_out, budgeted.epochs) == (16, 8, 1)
    assert budgeted.run_eagerly and not budgeted.jit_compile
    assert dataclasses.replace(budgeted, run_eagerly=False,
                               **{name: getattr(CPU_CONFIG, name) for name in GRADING_BUDGET}) == CPU_CONFIG
    small = dataclasses.replace(CPU_CONFIG, n_train=10)
    assert within_grading_budget(small).n_train == 10  # never more than the configuration asks


def test_a_lesson_names_its_size_once_and_a_grader_runs_a_token_of_it(monkeypatch):
    from unet_lib.environment import trained_model_claims, training_size

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert training_size(1000, when_graded=16) == 1000
    with pytest.raises(AssertionError, match="not trained"):
        with trained_model_claims():
            raise AssertionError("not trained")  # a claim that fails is an error in a learner's run
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert training_size(1000, when_graded=16) == 16
    assert training_size(8, when_graded=16) == 8  # never more than the lesson asks
    with trained_model_claims():
        raise AssertionError("a token run trains nothing: its claims are not checked")
    with pytest.raises(ValueError, match="a bug, not a claim"):
        with trained_model_claims():
            raise ValueError("a bug, not a claim")  # only failed claims are let through
    with pytest.raises(ValueError, match="when_graded must be a positive integer"):
        training_size(1000, when_graded=0)


def test_under_jax_the_default_configuration_compiles_its_steps_with_xla():
    # JAX runs an uncompiled train step op by op: about a hundred times slower on a CPU.
    import os
    import subprocess
    import sys

    pytest.importorskip("jax")
    program = "from unet_lib.training import default_config; print(default_config([]).jit_compile)"
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=300,
                               env={**os.environ, "KERAS_BACKEND": "jax"}, check=True)
    assert completed.stdout.strip().splitlines()[-1] == "True"
