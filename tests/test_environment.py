"""Versions, backend, GPUs and seeding."""

import numpy as np
import pytest

from unet_lib import check_versions, describe_environment, set_seed
from unet_lib._keras import keras


def test_installed_versions_match_the_pins():
    versions = check_versions()
    names = {v.name for v in versions}
    assert {"tensorflow", "keras", "numpy", "jupyterlab", "ipywidgets", "matplotlib"} <= names
    assert [v.name for v in versions if not v.ok] == []


def test_describe_environment_reports_backend_and_gpus():
    environment = describe_environment()
    assert environment["backend"] == keras.backend.backend()
    assert environment["keras"] == keras.__version__
    assert isinstance(environment["gpus"], list)


def test_set_seed_makes_draws_repeatable():
    set_seed(7)
    first = (keras.ops.convert_to_numpy(keras.random.uniform((4,))), np.random.rand(4))
    set_seed(7)
    second = (keras.ops.convert_to_numpy(keras.random.uniform((4,))), np.random.rand(4))
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_set_seed_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        set_seed(seed)
