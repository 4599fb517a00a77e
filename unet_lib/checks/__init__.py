"""Self-checks for the "your turn" exercises, with feedback that says what differs."""

from unet_lib.checks.core import Case, CheckFailed, describe_difference, verify
from unet_lib.checks.masks import check_one_hot

__all__ = ["Case", "CheckFailed", "check_one_hot", "describe_difference", "verify"]
