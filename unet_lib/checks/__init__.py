"""Self-checks for the "your turn" exercises, with feedback that says what differs.

Names load on first use: grading ``one_hot`` need not import Keras for the model checks.
"""

from unet_lib._lazy import lazy_exports

_EXPORTS = {
    "Case": "unet_lib.checks.core",
    "CheckFailed": "unet_lib.checks.core",
    "check_colour_mask_to_labels": "unet_lib.checks.masks",
    "check_conv_transpose2d_naive": "unet_lib.checks.transpose",
    "check_conv_transpose_output_size": "unet_lib.checks.transpose",
    "check_conv_matrix": "unet_lib.checks.transpose",
    "check_insert_zeros": "unet_lib.checks.transpose",
    "check_predicted_overlap_count": "unet_lib.checks.transpose",
    "check_predicted_upsampled_pixels": "unet_lib.checks.transpose",
    "check_conv_block": "unet_lib.checks.model",
    "check_one_hot": "unet_lib.checks.masks",
    "check_crop_skip": "unet_lib.checks.skips",
    "check_iou_and_dice": "unet_lib.checks.skips",
    "check_best_threshold": "unet_lib.checks.practice",
    "check_binary_mask_to_labels": "unet_lib.checks.practice",
    "check_median_frequency_weights": "unet_lib.checks.practice",
    "check_stitch_tiles": "unet_lib.checks.practice",
    "check_receptive_field": "unet_lib.checks.receptive",
    "check_unpadded_unet_sizes": "unet_lib.checks.receptive",
    "check_unet_model": "unet_lib.checks.model",
    "check_upsampling_block": "unet_lib.checks.model",
    "describe_difference": "unet_lib.checks.core",
    "report_unwritten_exercises": "unet_lib.checks.core",
    "exercises_left": "unet_lib.checks.core",
    "verify": "unet_lib.checks.core",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
