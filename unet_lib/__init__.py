"""unet_lib: the tested reference implementation behind the U-Net course lessons.

Everything a lesson uses is importable from here, e.g. ``from unet_lib import set_seed``. Names are
loaded on first use, so ``import unet_lib`` (and ``python -m unet_lib --help``) stays fast and
Keras is imported only by the parts that need it, always through :mod:`unet_lib._keras`, which
keeps TensorFlow's native log lines out of the output.
"""

from __future__ import annotations

from unet_lib._lazy import lazy_exports
from unet_lib._quiet import configure_tensorflow_logging

configure_tensorflow_logging()

__version__ = "0.1.0"

# Public name -> the module that defines it. Add a line here when a module gains a public name.
_EXPORTS = {
    "check_conv_transpose2d_naive": "unet_lib.checks",
    "check_conv_transpose_output_size": "unet_lib.checks",
    "conv2d": "unet_lib.convolution",
    "conv_matrix": "unet_lib.convolution",
    "conv_output_size": "unet_lib.arithmetic",
    "conv_transpose2d": "unet_lib.convolution",
    "conv_transpose2d_naive": "unet_lib.convolution",
    "conv_transpose_output_size": "unet_lib.arithmetic",
    "draw_grids": "unet_lib.explorer",
    "draw_transpose_layout": "unet_lib.explorer",
    "keras_conv_transpose2d": "unet_lib.convolution",
    "keras_output_shape": "unet_lib.explorer",
    "overlap_count": "unet_lib.convolution",
    "resize_then_convolve": "unet_lib.convolution",
    "transpose_axis": "unet_lib.arithmetic",
    "transpose_explorer": "unet_lib.explorer",
    "transpose_geometry": "unet_lib.convolution",
    "transpose_layout": "unet_lib.explorer",
    "CheckFailed": "unet_lib.checks",
    "check_colour_mask_to_labels": "unet_lib.checks",
    "check_conv_block": "unet_lib.checks",
    "check_one_hot": "unet_lib.checks",
    "check_unet_model": "unet_lib.checks",
    "report_unwritten_exercises": "unet_lib.checks",
    "check_upsampling_block": "unet_lib.checks",
    "check_versions": "unet_lib.environment",
    "conv_block": "unet_lib.model",
    "balanced_class_weights": "unet_lib.training",
    "default_config": "unet_lib.training",
    "evaluate_segmentation": "unet_lib.training",
    "pixel_weights": "unet_lib.training",
    "predict_image": "unet_lib.inference",
    "predict_masks": "unet_lib.training",
    "split_held_out": "unet_lib.training",
    "train_unet": "unet_lib.training",
    "EpochProgress": "unet_lib.training",
    "TrainingConfig": "unet_lib.training",
    "CLASS_CMAP": "unet_lib.display",
    "CLASS_RGB": "unet_lib.display",
    "class_map_legend": "unet_lib.display",
    "integer_epochs": "unet_lib.display",
    "overlay_classes": "unet_lib.display",
    "show_class_map": "unet_lib.display",
    "course_map_markdown": "unet_lib.course",
    "describe_environment": "unet_lib.environment",
    "describe_distribution": "unet_lib.distribute",
    "distribution_scope": "unet_lib.distribute",
    "GPU_ADVICE": "unet_lib.environment",
    "grading_run": "unet_lib.environment",
    "grade": "unet_lib.classroom.grade",
    "layer_summary": "unet_lib.checks",
    "list_gpus": "unet_lib.environment",
    "list_lessons": "unet_lib.course",
    "augment_batch": "unet_lib.data",
    "boundary_band": "unet_lib.metrics",
    "boundary_iou": "unet_lib.metrics",
    "build_release": "unet_lib.classroom.release",
    "CLASS_NAMES": "unet_lib.data",
    "confusion_matrix": "unet_lib.metrics",
    "CrossEntropyDiceLoss": "unet_lib.metrics",
    "dice_per_class": "unet_lib.metrics",
    "draw_all": "unet_lib.figures",
    "iou_per_class": "unet_lib.metrics",
    "label_instances": "unet_lib.figures",
    "make_shapes_dataset": "unet_lib.data",
    "mean_iou": "unet_lib.metrics",
    "mean_iou_metric": "unet_lib.metrics",
    "mobilenet_unet": "unet_lib.pretrained",
    "pixel_accuracy": "unet_lib.metrics",
    "ShapesBatches": "unet_lib.data",
    "colour_mask_to_labels": "unet_lib.masks",
    "one_hot": "unet_lib.masks",
    "CARLA_N_CLASSES": "unet_lib.folders",
    "load_carla_folder": "unet_lib.folders",
    "load_dataset_folder": "unet_lib.folders",
    "load_oxford_pets_folder": "unet_lib.folders",
    "load_segmentation_folder": "unet_lib.folders",
    "OXFORD_PETS_CLASS_NAMES": "unet_lib.folders",
    "SegmentationFolderBatches": "unet_lib.folders",
    "write_segmentation_folder": "unet_lib.folders",
    "set_encoder_trainable": "unet_lib.pretrained",
    "set_seed": "unet_lib.environment",
    "check_input_size": "unet_lib.model",
    "unet_model": "unet_lib.model",
    "upsampling_block": "unet_lib.model",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
