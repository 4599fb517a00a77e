"""Segmentation metrics: known values, agreement with plain loops and with Keras, bad inputs."""

import numpy as np
import pytest

from unet_lib import keras
from unet_lib.metrics import (
    CrossEntropyDiceLoss,
    boundary_band,
    boundary_iou,
    confusion_matrix,
    dice_per_class,
    iou_per_class,
    mean_iou,
    mean_iou_metric,
    pixel_accuracy,
)

TRUTH = np.array([[0, 0, 1, 1], [0, 2, 2, 1]])
GUESS = np.array([[0, 1, 1, 1], [0, 2, 0, 0]])
# By hand: class 0 has 3 true pixels, 4 predicted, 2 shared -> IoU 2/5, Dice 4/7;
# class 1: 3 true, 3 predicted, 2 shared -> IoU 2/4, Dice 4/6; class 2: 2 true, 1 predicted, 1 shared
# -> IoU 1/2, Dice 2/3.


def test_confusion_matrix_by_hand_and_against_a_loop():
    assert confusion_matrix(TRUTH, GUESS, 3).tolist() == [[2, 1, 0], [1, 2, 0], [1, 0, 1]]
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 4, (3, 5, 6)), rng.integers(0, 4, (3, 5, 6))
    looped = np.zeros((4, 4), dtype=int)
    for t, p in zip(y_true.ravel(), y_pred.ravel(), strict=True):
        looped[t, p] += 1
    assert np.array_equal(confusion_matrix(y_true, y_pred, 4), looped)


def test_iou_dice_and_accuracy_by_hand():
    np.testing.assert_allclose(iou_per_class(TRUTH, GUESS, 3), [2 / 5, 2 / 4, 1 / 2])
    np.testing.assert_allclose(dice_per_class(TRUTH, GUESS, 3), [4 / 7, 4 / 6, 2 / 3])
    assert mean_iou(TRUTH, GUESS, 3) == pytest.approx((2 / 5 + 2 / 4 + 1 / 2) / 3)
    assert pixel_accuracy(TRUTH, GUESS) == pytest.approx(5 / 8)


def test_perfect_prediction_scores_one():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, (2, 8, 8))
    np.testing.assert_array_equal(iou_per_class(labels, labels, 3), 1.0)
    np.testing.assert_array_equal(dice_per_class(labels, labels, 3), 1.0)
    assert mean_iou(labels, labels, 3) == 1.0 and pixel_accuracy(labels, labels) == 1.0


def test_dice_and_iou_are_tied():
    rng = np.random.default_rng(2)
    y_true, y_pred = rng.integers(0, 5, (4, 9, 9)), rng.integers(0, 5, (4, 9, 9))
    iou = iou_per_class(y_true, y_pred, 5)
    np.testing.assert_allclose(dice_per_class(y_true, y_pred, 5), 2 * iou / (1 + iou))


def test_absent_class_is_nan_and_left_out_of_the_mean():
    iou = iou_per_class(TRUTH, GUESS, 4)
    assert np.isnan(iou[3]) and np.isnan(dice_per_class(TRUTH, GUESS, 4)[3])
    assert mean_iou(TRUTH, GUESS, 4) == pytest.approx(mean_iou(TRUTH, GUESS, 3))
    # A class predicted but absent from the truth is a mistake, not absent: IoU 0, counted.
    assert iou_per_class(np.array([0, 0]), np.array([0, 1]), 2).tolist() == [0.5, 0.0]


@pytest.mark.parametrize("metric", [confusion_matrix, iou_per_class, mean_iou, dice_per_class, boundary_iou])
def test_bad_inputs_say_what_is_wrong(metric):
    with pytest.raises(ValueError, match=r"same shape, got \(2, 4\) and \(2, 3\)"):
        metric(TRUTH, GUESS[:, :3], 3)
    with pytest.raises(ValueError, match="take argmax"):
        metric(TRUTH, np.zeros((2, 4, 3)), 3)
    with pytest.raises(ValueError, match=r"y_true labels must lie in \[0, 3\), got values from 0 to 5"):
        metric(np.where(TRUTH == 2, 5, TRUTH), GUESS, 3)
    with pytest.raises(ValueError, match=r"y_pred labels must lie in \[0, 3\), got values from -1 to 2"):
        metric(TRUTH, np.where(GUESS == 1, -1, GUESS), 3)
    with pytest.raises(ValueError, match="y_pred must hold integer class labels, got dtype float64"):
        metric(TRUTH, GUESS.astype(float), 3)
    with pytest.raises(ValueError, match="n_classes must be a positive integer"):
        metric(TRUTH, GUESS, 0)
    with pytest.raises(ValueError, match="at least one pixel"):
        metric(np.zeros((0, 4), int), np.zeros((0, 4), int), 3)


def test_pixel_accuracy_bad_inputs():
    with pytest.raises(ValueError, match="same shape"):
        pixel_accuracy(TRUTH, GUESS[:1])
    with pytest.raises(ValueError, match="y_true must hold integer class labels"):
        pixel_accuracy(TRUTH.astype(np.float32), GUESS)


def test_boundary_band_marks_both_sides_of_each_edge_not_the_border():
    square = np.zeros((9, 9), dtype=int)
    square[3:6, 3:6] = 1
    band = boundary_band(square, band_width=1)
    expected = np.zeros((9, 9), dtype=bool)
    expected[2:7, 2:7] = True
    expected[4, 4] = False  # the square's centre is 2 pixels from every edge
    np.testing.assert_array_equal(band, expected)
    # A shape touching the border: the border itself is no edge.
    np.testing.assert_array_equal(boundary_band(np.array([[1, 1, 0, 0, 0, 0]]), 1), [[0, 1, 1, 0, 0, 0]])
    # Wider band, and a batch gives the same as each map alone.
    wide = boundary_band(square, band_width=2)
    assert wide.sum() == 7 * 7 and wide[0].sum() == 0  # rows and columns 1 to 7
    np.testing.assert_array_equal(boundary_band(np.stack([square, square.T]), 1), np.stack([band, band.T]))


def test_boundary_band_bad_inputs():
    with pytest.raises(ValueError, match="band_width must be a positive integer"):
        boundary_band(TRUTH, band_width=0)
    with pytest.raises(ValueError, match=r"y_true must be integer labels \(H, W\) or \(N, H, W\)"):
        boundary_band(np.zeros(5, int))
    with pytest.raises(ValueError, match="y_true must be integer labels"):
        boundary_band(np.zeros((4, 4)))


def test_boundary_iou_punishes_blurred_outlines_more_than_mean_iou():
    truth = np.zeros((1, 32, 32), dtype=int)
    truth[0, 8:24, 8:24] = 1
    assert boundary_iou(truth, truth, 2) == 1.0
    # A prediction with rounded corners: nearly all pixels right, but the errors sit on edges.
    rounded = truth.copy()
    for row, col in [(8, 8), (8, 23), (23, 8), (23, 23)]:
        rounded[0, row - 2:row + 3, col - 2:col + 3] = 0
    assert mean_iou(truth, rounded, 2) > 0.9
    assert boundary_iou(truth, rounded, 2) < mean_iou(truth, rounded, 2) - 0.1
    # No edge in the truth: nothing to score.
    assert np.isnan(boundary_iou(np.zeros((4, 4), int), np.zeros((4, 4), int), 2))


def test_keras_metric_equals_numpy_mean_iou():
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 3, (4, 6, 6), dtype=np.int32)  # int32 like the dataset's masks, on every backend
    y_true[y_true == 2] = 0  # class 2 absent from the truth...
    logits = rng.normal(size=(4, 6, 6, 4)).astype(np.float32)
    logits[..., 3] -= 100  # ...and class 3 from both: Keras must leave it out as NaN is left out here
    metric = mean_iou_metric(4)
    # Two updates: the metric sums over the epoch's batches.
    metric.update_state(y_true[:2], logits[:2])
    metric.update_state(y_true[2:], logits[2:])
    expected = mean_iou(y_true, logits.argmax(-1), 4)
    assert float(keras.ops.convert_to_numpy(metric.result())) == pytest.approx(expected, abs=1e-6)
    assert metric.name == "mean_iou"
    with pytest.raises(ValueError, match="n_classes must be a positive integer"):
        mean_iou_metric(0)


def test_keras_metric_weighs_pixels_resets_and_reloads_with_a_saved_model(tmp_path):
    from unet_lib.reference.model import unet_model

    y_true = np.array([[[0, 1], [1, 1]]], dtype=np.int32)
    logits = np.zeros((1, 2, 2, 2), dtype=np.float32)
    logits[..., 1] = 1.0  # predicts class 1 everywhere: IoU 0 for class 0, 3/4 for class 1
    metric = mean_iou_metric(2)
    metric.update_state(y_true, logits)
    assert float(keras.ops.convert_to_numpy(metric.result())) == pytest.approx(0.375)
    metric.reset_state()
    # Weight 0 on the background pixel: only class 1 remains, predicted perfectly.
    metric.update_state(y_true, logits, sample_weight=np.array([[[0, 1], [1, 1]]], dtype=np.float32))
    assert float(keras.ops.convert_to_numpy(metric.result())) == pytest.approx(1.0)
    model = unet_model((16, 16, 3), 4, 3, depth=2, batch_norm=True, dropout_prob=0.0)
    model.compile(optimizer="adam", loss=CrossEntropyDiceLoss(0.5), metrics=[mean_iou_metric(3)])
    images = np.random.default_rng(0).random((4, 16, 16, 3), dtype=np.float32)
    masks = np.random.default_rng(1).integers(0, 3, (4, 16, 16)).astype(np.int32)
    model.fit(images, masks, verbose=0)
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(reloaded.loss, CrossEntropyDiceLoss) and reloaded.loss.dice_weight == 0.5
    scores = reloaded.evaluate(images, masks, verbose=0, return_dict=True)
    assert scores["mean_iou"] == pytest.approx(mean_iou(masks, model.predict(images, verbose=0).argmax(-1), 3),
                                               abs=1e-6)


def _softmax(logits):
    exponentials = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


def test_cross_entropy_dice_loss_against_numpy():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, (2, 4, 5)).astype(np.int32)
    logits = rng.normal(size=(2, 4, 5, 3)).astype(np.float32)
    probabilities = _softmax(logits.astype(np.float64))
    truth = np.eye(3)[labels]
    cross_entropy = -np.log(np.take_along_axis(probabilities, labels[..., None], axis=-1))[..., 0]
    dice = (2 * (probabilities * truth).sum(axis=(0, 1, 2)) + 1) / (probabilities.sum(axis=(0, 1, 2))
                                                                     + truth.sum(axis=(0, 1, 2)) + 1)
    for dice_weight in (0.0, 1.0, 2.5):
        loss = CrossEntropyDiceLoss(dice_weight)
        per_pixel = keras.ops.convert_to_numpy(loss.call(labels, logits))
        np.testing.assert_allclose(per_pixel, cross_entropy + dice_weight * (1 - dice.mean()), rtol=1e-5)
        assert float(keras.ops.convert_to_numpy(loss(labels, logits))) == pytest.approx(per_pixel.mean(), rel=1e-5)
    # Pixel weights multiply each pixel's value, the Dice part included.
    weights = rng.random(labels.shape).astype(np.float32)
    weighted = float(keras.ops.convert_to_numpy(CrossEntropyDiceLoss(1.0)(labels, logits, sample_weight=weights)))
    assert weighted == pytest.approx((weights * (cross_entropy + 1 - dice.mean())).mean(), rel=1e-5)


def test_cross_entropy_dice_loss_nearly_vanishes_on_confident_right_logits_and_rejects_bad_weights():
    labels = np.array([[[0, 1], [2, 2]]], dtype=np.int32)
    logits = 30.0 * np.eye(3, dtype=np.float32)[labels]
    assert float(keras.ops.convert_to_numpy(CrossEntropyDiceLoss(1.0)(labels, logits))) < 1e-5
    wrong = 30.0 * np.eye(3, dtype=np.float32)[(labels + 1) % 3]
    # Every pixel wrong: no overlap, so each class's Dice is 1 / (predicted + true pixels + 1), from the
    # smoothing alone: class 0 is predicted twice and true once, class 1 once and once, class 2 once and twice.
    expected_dice_loss = 1 - np.mean([1 / 4, 1 / 3, 1 / 4])
    per_pixel = keras.ops.convert_to_numpy(CrossEntropyDiceLoss(1.0).call(labels, wrong))
    np.testing.assert_allclose(per_pixel, 30.0 + expected_dice_loss, rtol=1e-4)
    assert CrossEntropyDiceLoss(0.5).get_config()["dice_weight"] == 0.5
    for bad in (-1.0, True, "1", float("nan")):
        with pytest.raises(ValueError, match="dice_weight must be a number >= 0"):
            CrossEntropyDiceLoss(bad)


def test_ignore_class_leaves_pixels_out_of_the_confusion_matrix_and_the_mean():
    # TRUTH with a void border of 255 on its last column: those pixels count for nothing, whatever is predicted.
    void = TRUTH.copy()
    void[:, 3] = 255
    wrong_there = GUESS.copy()
    wrong_there[:, 3] = 2
    kept = void != 255
    expected = confusion_matrix(TRUTH[kept], GUESS[kept], 3)
    np.testing.assert_array_equal(confusion_matrix(void, GUESS, 3, ignore_class=255), expected)
    np.testing.assert_array_equal(confusion_matrix(void, wrong_there, 3, ignore_class=255), expected)
    assert mean_iou(void, wrong_there, 3, ignore_class=255) == mean_iou(TRUTH[kept], GUESS[kept], 3)
    np.testing.assert_array_equal(iou_per_class(void, GUESS, 3, ignore_class=255),
                                  iou_per_class(TRUTH[kept], GUESS[kept], 3))
    # Perfect away from the void: 1.0 exactly; an ignored class inside the range works too.
    assert mean_iou(void, np.where(kept, TRUTH, 0), 3, ignore_class=255) == 1.0
    assert mean_iou(TRUTH, np.where(TRUTH == 2, 0, TRUTH), 3, ignore_class=2) == 1.0
    # Every pixel ignored: nothing counted, no mean.
    assert confusion_matrix(np.full((2, 2), 255), np.zeros((2, 2), int), 3, ignore_class=255).sum() == 0
    assert np.isnan(mean_iou(np.full((2, 2), 255), np.zeros((2, 2), int), 3, ignore_class=255))


def test_ignore_class_bad_inputs():
    void = np.where(TRUTH == 2, 255, TRUTH)
    with pytest.raises(ValueError, match=r"y_true labels must lie in \[0, 3\), got values from 0 to 255"):
        mean_iou(void, GUESS, 3)  # without ignore_class, 255 is a label out of range
    with pytest.raises(ValueError, match=r"y_pred labels must lie in \[0, 3\)"):
        mean_iou(void, np.where(GUESS == 1, 7, GUESS), 3, ignore_class=255)  # kept pixels are still checked
    with pytest.raises(ValueError, match="same shape"):
        confusion_matrix(void, GUESS[:, :3], 3, ignore_class=255)
    for bad in (2.5, "255", True):
        with pytest.raises(ValueError, match="ignore_class must be None or an integer"):
            mean_iou(void, GUESS, 3, ignore_class=bad)
        with pytest.raises(ValueError, match="ignore_class must be None or an integer"):
            mean_iou_metric(3, ignore_class=bad)


def test_keras_metric_ignore_class_matches_numpy_and_round_trips_its_config():
    rng = np.random.default_rng(4)
    y_true = rng.integers(0, 3, (3, 6, 6)).astype(np.int32)
    y_true[:, 0, :] = 255  # a void row in every image
    logits = rng.normal(size=(3, 6, 6, 3)).astype(np.float32)
    weights = rng.random((3, 6, 6)).astype(np.float32)
    metric = mean_iou_metric(3, ignore_class=255)
    metric.update_state(y_true, logits)
    expected = mean_iou(y_true, logits.argmax(-1), 3, ignore_class=255)
    assert float(keras.ops.convert_to_numpy(metric.result())) == pytest.approx(expected, abs=1e-6)
    # With a sample weight too: ignored pixels weigh 0 on top of it. Same as weight 0 there and no ignore_class.
    weighted, zeroed = mean_iou_metric(3, ignore_class=255), mean_iou_metric(3)
    weighted.update_state(y_true, logits, sample_weight=weights)
    zeroed.update_state(np.where(y_true == 255, 0, y_true), logits, sample_weight=np.where(y_true == 255, 0, weights))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(weighted.confusion),
                               keras.ops.convert_to_numpy(zeroed.confusion), rtol=1e-6)
    config = metric.get_config()
    assert config["ignore_class"] == 255
    copy = type(metric).from_config(config)
    assert copy.ignore_class == 255 and copy.n_classes == 3 and copy.name == "mean_iou"
    assert mean_iou_metric(3).get_config()["ignore_class"] is None
