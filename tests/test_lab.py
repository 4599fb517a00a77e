"""`make lab` starts a JupyterLab server that serves the lessons."""

import json
import urllib.request

import pytest

from tests.jupyter_server import running_lab


@pytest.mark.slow
def test_make_lab_serves_lesson_00(tmp_path):
    with running_lab(tmp_path) as (base_url, token):
        with urllib.request.urlopen(f"{base_url}/api/contents/00_setup.ipynb?token={token}", timeout=10) as response:
            model = json.load(response)
        assert model["type"] == "notebook"
        assert model["content"]["cells"][0]["source"].startswith("# Set up the course")
        with urllib.request.urlopen(f"{base_url}/lab?token={token}", timeout=10) as response:
            assert response.status == 200
