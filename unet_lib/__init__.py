"""unet_lib: the learner's package of the U-Net course, what the lessons import.

- ``unet_lib.reference``: the graded reference, the code the exercises ask you to write (output-size arithmetic,
  the NumPy convolutions, the label masks, the U-Net blocks and model). Read it after you have written yours.
- What the lessons use beside it: the embedded scenes and your own folders (``data``, ``folders``), metrics,
  training, inference, the pretrained encoder, display, the transposed-convolution explorer, the self-checks
  (``checks``) and the environment (versions, seeds, GPUs).

Every name a lesson uses is importable from here, e.g. ``from unet_lib import set_seed, keras``: ``keras`` is
Keras itself, imported so that TensorFlow's native log lines stay out of the output and the backend is one the
course runs on. Names are loaded on first use, so ``import unet_lib`` (and ``python -m unet_lib --help``)
stays fast and Keras is imported only by the parts that need it.
"""

from __future__ import annotations

from unet_lib._lazy import lazy_exports
from unet_lib._quiet import configure_tensorflow_logging

configure_tensorflow_logging()

__version__ = "0.1.0"

# Public name -> the module that defines it: exactly the names the lessons import and the graded reference
# functions (tests/test_course.py fails when a lesson imports a name missing here, or a name here is neither).
_EXPORTS = {
    "keras": "unet_lib._keras",
    "check_versions": "unet_lib.environment",
    "describe_environment": "unet_lib.environment",
    "GPU_ADVICE": "unet_lib.environment",
    "set_seed": "unet_lib.environment",
    "trained_model_claims": "unet_lib.environment",
    "training_size": "unet_lib.environment",
    "save_answers": "unet_lib.answers",
    "conv_output_size": "unet_lib.reference.arithmetic",
    "conv_transpose_output_size": "unet_lib.reference.arithmetic",
    "transpose_axis": "unet_lib.reference.arithmetic",
    "predicted_overlap_count": "unet_lib.reference.arithmetic",
    "predicted_upsampled_pixels": "unet_lib.reference.arithmetic",
    "receptive_field": "unet_lib.reference.arithmetic",
    "unpadded_unet_sizes": "unet_lib.reference.arithmetic",
    "conv2d": "unet_lib.reference.convolution",
    "conv_matrix": "unet_lib.reference.convolution",
    "conv_transpose2d": "unet_lib.reference.convolution",
    "conv_transpose2d_naive": "unet_lib.reference.convolution",
    "insert_zeros": "unet_lib.reference.convolution",
    "keras_conv_transpose2d": "unet_lib.reference.convolution",
    "overlap_count": "unet_lib.reference.convolution",
    "resize_then_convolve": "unet_lib.reference.convolution",
    "colour_mask_to_labels": "unet_lib.reference.masks",
    "one_hot": "unet_lib.reference.masks",
    "crop_skip": "unet_lib.reference.skips",
    "iou_and_dice": "unet_lib.reference.skips",
    "binary_mask_to_labels": "unet_lib.reference.masks",
    "median_frequency_weights": "unet_lib.reference.masks",
    "best_threshold": "unet_lib.reference.postprocess",
    "stitch_tiles": "unet_lib.reference.postprocess",
    "check_input_size": "unet_lib.reference.model",
    "conv_block": "unet_lib.reference.model",
    "unet_model": "unet_lib.reference.model",
    "upsampling_block": "unet_lib.reference.model",
    "draw_grids": "unet_lib.explorer",
    "keras_output_shape": "unet_lib.explorer",
    "transpose_explorer": "unet_lib.explorer",
    "CLASS_NAMES": "unet_lib.data",
    "HELD_OUT_SEED": "unet_lib.data",
    "make_shapes_dataset": "unet_lib.data",
    "split_held_out": "unet_lib.data",
    "load_dataset_folder": "unet_lib.folders",
    "load_segmentation_folder": "unet_lib.folders",
    "SegmentationFolderBatches": "unet_lib.folders",
    "write_segmentation_folder": "unet_lib.folders",
    "balanced_class_weights": "unet_lib.metrics",
    "boundary_band": "unet_lib.metrics",
    "boundary_iou": "unet_lib.metrics",
    "CrossEntropyDiceLoss": "unet_lib.metrics",
    "confusion_matrix": "unet_lib.metrics",
    "evaluate_segmentation": "unet_lib.metrics",
    "iou_per_class": "unet_lib.metrics",
    "mean_iou": "unet_lib.metrics",
    "mean_iou_metric": "unet_lib.metrics",
    "pixel_accuracy": "unet_lib.metrics",
    "pixel_weights": "unet_lib.metrics",
    "build_model_for": "unet_lib.training",
    "CPU_CONFIG": "unet_lib.training",
    "default_config": "unet_lib.training",
    "dtype_policy_scope": "unet_lib.training",
    "EpochProgress": "unet_lib.training",
    "GPU_CONFIG": "unet_lib.training",
    "learning_rate_schedule": "unet_lib.training",
    "train_unet": "unet_lib.training",
    "predict_image": "unet_lib.inference",
    "predict_masks": "unet_lib.inference",
    "size_multiple": "unet_lib.inference",
    "ENCODER_NAME": "unet_lib.pretrained",
    "mobilenet_unet": "unet_lib.pretrained",
    "PREPROCESS_LAYER": "unet_lib.pretrained",
    "set_encoder_trainable": "unet_lib.pretrained",
    "SKIP_LAYERS": "unet_lib.pretrained",
    "describe_distribution": "unet_lib.distribute",
    "distribution_scope": "unet_lib.distribute",
    "class_map_legend": "unet_lib.display",
    "integer_epochs": "unet_lib.display",
    "overlay_classes": "unet_lib.display",
    "show_class_map": "unet_lib.display",
    "course_map_markdown": "unet_lib.course",
    "CheckFailed": "unet_lib.checks.core",
    "report_unwritten_exercises": "unet_lib.checks.core",
    "exercises_left": "unet_lib.checks.core",
    "check_colour_mask_to_labels": "unet_lib.checks.masks",
    "check_one_hot": "unet_lib.checks.masks",
    "check_crop_skip": "unet_lib.checks.skips",
    "check_iou_and_dice": "unet_lib.checks.skips",
    "check_best_threshold": "unet_lib.checks.practice",
    "check_binary_mask_to_labels": "unet_lib.checks.practice",
    "check_median_frequency_weights": "unet_lib.checks.practice",
    "check_stitch_tiles": "unet_lib.checks.practice",
    "check_conv_block": "unet_lib.checks.model",
    "check_unet_model": "unet_lib.checks.model",
    "check_upsampling_block": "unet_lib.checks.model",
    "check_conv_transpose2d_naive": "unet_lib.checks.transpose",
    "check_conv_transpose_output_size": "unet_lib.checks.transpose",
    "check_conv_matrix": "unet_lib.checks.transpose",
    "check_insert_zeros": "unet_lib.checks.transpose",
    "check_predicted_overlap_count": "unet_lib.checks.transpose",
    "check_predicted_upsampled_pixels": "unet_lib.checks.transpose",
    "check_receptive_field": "unet_lib.checks.receptive",
    "check_unpadded_unet_sizes": "unet_lib.checks.receptive",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
