"""`make lab` serves the folder above the lessons, so their ../media/ figure links resolve, and opens the lessons."""

import json
import re
import urllib.error
import urllib.request

import pytest

from tests.jupyter_server import REPO_ROOT, copy_repository, image_links, lab_command, running_lab


def get(lab, path):
    return urllib.request.urlopen(f"{lab.base_url}/{path}?token={lab.token}", timeout=10)


@pytest.mark.parametrize("lessons", [None, "workbook/lessons", "workbook/lessons/"])
def test_make_lab_serves_the_folder_above_the_lessons_and_opens_the_first_lesson(lessons, tmp_path):
    project = copy_repository(tmp_path / "repository")
    workbook = project / "workbook" / "lessons"
    workbook.mkdir(parents=True)
    (workbook / "00_setup.ipynb").write_bytes((REPO_ROOT / "lessons" / "00_setup.ipynb").read_bytes())
    arguments = lab_command(project, lessons)
    served = project / (lessons or "lessons").rstrip("/")
    assert arguments["ServerApp.root_dir"] == str(served.parent)
    assert arguments["FileContentsManager.preferred_dir"] == "lessons"
    assert arguments["LabApp.default_url"] == "/lab/tree/lessons/00_setup.ipynb"
    assert arguments["JUPYTER_CONFIG_PATH"] == str(project / "lab_config")


def test_the_learners_jupyterlab_has_no_nbgrader_and_no_news(tmp_path):
    # The dev extra installs nbgrader into the same environment; `make lab` still shows the learner none of it.
    with running_lab(tmp_path) as lab:
        assert lab.opened == "lessons/00_setup.ipynb"
        with get(lab, "lab") as response:
            page = response.read().decode()
        with pytest.raises(urllib.error.HTTPError, match="404"):
            get(lab, "formgrader")  # nbgrader's server extension is not loaded either
    page_config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                       page, re.DOTALL).group(1))
    disabled = page_config["disabledExtensions"]
    assert "@jupyter/nbgrader" in disabled and "@jupyterlab/apputils-extension:announcements" in disabled, disabled


def test_make_lab_serves_the_lessons_and_their_figures(tmp_path):
    with running_lab(tmp_path) as lab:
        assert lab.lessons == "lessons"
        with get(lab, "api/contents/lessons/00_setup.ipynb") as response:
            model = json.load(response)
        assert model["type"] == "notebook"
        assert model["content"]["cells"][0]["source"].startswith("# Set up the course")
        with get(lab, "lab") as response:
            assert response.status == 200
        # Each figure link, resolved from its lesson's folder as the browser does, is served.
        links = {link for lesson in sorted((REPO_ROOT / "lessons").glob("*.ipynb")) for link in image_links(lesson)}
        assert links and all(link.startswith("../media/") for link in links), links
        for link in sorted(links):
            with get(lab, f"files/{link.removeprefix('../')}") as response:
                assert response.status == 200 and response.headers["Content-Type"] == "image/png", link


def test_make_lab_LESSONS_serves_another_course_folder_with_its_own_media(tmp_path):
    # As `make lab LESSONS=workbook/lessons` serves the workbook, which holds its own media/ beside its lessons/.
    repository = copy_repository(tmp_path / "repository")
    workbook = repository / "workbook"
    (workbook / "lessons").mkdir(parents=True)
    (workbook / "media").mkdir()
    (workbook / "lessons" / "00_setup.ipynb").write_bytes((REPO_ROOT / "lessons" / "00_setup.ipynb").read_bytes())
    (workbook / "media" / "unet.png").write_bytes((REPO_ROOT / "media" / "unet.png").read_bytes())
    with running_lab(tmp_path / "lab", project=repository, lessons="workbook/lessons") as lab:
        assert lab.lessons == "lessons"
        with get(lab, "api/contents") as response:
            assert {item["name"] for item in json.load(response)["content"]} == {"lessons", "media"}
        with get(lab, "files/media/unet.png") as response:
            assert response.status == 200
