"""Self-checks for the "your turn" exercises, with feedback that says what differs."""

from unet_lib.checks.core import Case, CheckFailed, describe_difference, verify
from unet_lib.checks.masks import check_colour_mask_to_labels, check_one_hot
from unet_lib.checks.model import check_conv_block, check_unet_model, check_upsampling_block, layer_summary
from unet_lib.checks.transpose import check_conv_transpose2d_naive, check_conv_transpose_output_size

__all__ = [
    "Case",
    "CheckFailed",
    "check_colour_mask_to_labels",
    "check_conv_transpose2d_naive",
    "check_conv_transpose_output_size",
    "check_conv_block",
    "check_one_hot",
    "check_unet_model",
    "check_upsampling_block",
    "describe_difference",
    "layer_summary",
    "verify",
]
