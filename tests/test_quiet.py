"""TensorFlow's native log lines stay out of scripts, kernels and therefore lessons."""

import subprocess
import sys

import nbformat
from nbclient import NotebookClient

# Training a small convolution with XLA exercises the code paths that log at load and at compile.
KERAS_WORK = """
import unet_lib
from unet_lib import keras
import numpy as np
model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2DTranspose(2, 3, strides=2)])
model.compile("adam", "mse", jit_compile=True)
model.fit(np.zeros((2, 8, 8, 1)), np.zeros((2, 17, 17, 2)), verbose=0)
print("trained")
"""


def test_python_process_stderr_is_empty():
    completed = subprocess.run([sys.executable, "-c", KERAS_WORK], capture_output=True, text=True,
                               timeout=180, check=False)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "trained"
    assert completed.stderr == "", f"native log lines leaked: {completed.stderr[:800]}"


def test_notebook_cells_show_no_stderr():
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(KERAS_WORK)]
    NotebookClient(notebook, timeout=180, kernel_name="python3").execute()
    streams = [(o.name, o.text) for o in notebook.cells[0].outputs if o.output_type == "stream"]
    assert streams == [("stdout", "trained\n")], streams
