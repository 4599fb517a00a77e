"""The one place the library imports Keras: TensorFlow is loaded quietly first.

Modules that need Keras write ``from unet_lib._keras import keras``.
"""

from unet_lib._quiet import import_tensorflow_quietly

import_tensorflow_quietly()

import keras  # noqa: E402

__all__ = ["keras"]
