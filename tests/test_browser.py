"""What a learner sees: lessons opened in JupyterLab in a real (headless) Chromium, driven by Playwright.

Widgets that work in a kernel can still be blank in the browser (a widget manager missing from the
server's environment is the classic cause), so these tests run cells through JupyterLab's own UI and
read the rendered page. Screenshots go to test-artifacts/browser/ (printed at the end of the run).
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest

from tests.jupyter_server import REPO_ROOT, copy_repository, image_links, running_lab

SCREENSHOTS = REPO_ROOT / "test-artifacts" / "browser"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-quic", "--no-first-run", "--disable-dev-shm-usage"]
STDERR_OUTPUT = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'

pytestmark = pytest.mark.extended


@pytest.fixture
def browser_page(tmp_path):
    """A Playwright page in headless Debian Chromium with a fresh profile; closed even when a test fails."""
    if CHROMIUM is None:
        message = ("Chromium not found: install it to run the browser tests "
                   "(Debian/Ubuntu: sudo apt-get install chromium).")
        if os.environ.get("CI"):
            pytest.fail(message + " CI must run these tests, not skip them.")
        pytest.skip(message)
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (in the dev extra)")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900})
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(60_000)
            yield page
        finally:
            context.close()


def open_notebook(page, lab, name, wait_for_kernel=True):
    """Open a lesson (from the folder `make lab` opened) in JupyterLab; wait until its cells are shown and,
    unless told not to, until its kernel is idle."""
    # reset: a fresh workspace, so lessons opened before are not restored in other tabs.
    page.goto(f"{lab.base_url}/lab/tree/{posixpath.join(lab.lessons, name)}?token={lab.token}&reset")
    page.locator(".jp-Notebook .jp-CodeCell").first.wait_for()
    if wait_for_kernel:
        page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\| Idle")).first.wait_for(timeout=120_000)


def run_menu_command(page, menu, label):
    """Click a command in JupyterLab's menu bar, e.g. ("Run", "Run All Cells")."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(menu)}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(label)}$")).click()


def wait_until_all_cells_ran(page, timeout_s=240):
    """Wait until every code cell shows an execution count (no pending [*] or empty prompt)."""
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""", timeout=timeout_s * 1000)


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def test_lesson_00_runs_in_jupyterlab_without_errors_and_its_slider_responds(browser_page, tmp_path):
    page = browser_page
    with running_lab(tmp_path) as lab:
        open_notebook(page, lab, "00_setup.ipynb")
        run_menu_command(page, "Run", "Run All Cells")
        wait_until_all_cells_ran(page)
        assert page.locator(STDERR_OUTPUT).count() == 0, page.locator(STDERR_OUTPUT).first.inner_text()

        # The widget check cell: a rendered slider (not its text repr) whose drag updates the label.
        handle = page.locator(".widget-slider .noUi-handle").first
        handle.scroll_into_view_if_needed()
        label = page.locator(".widget-label", has_text="upsampled with this stride").first
        assert label.inner_text().endswith("12x12")
        handle.focus()
        page.keyboard.press("ArrowLeft")
        page.wait_for_function("el => el.textContent.endsWith('8x8')", arg=label.element_handle())
        screenshot(page, "lesson00_slider_moved")


def run_cell_containing(page, text: str):
    """Select the code cell whose source contains ``text``, run it (Shift+Enter) and wait for it to finish."""
    cell = page.locator(".jp-Notebook .jp-CodeCell", has_text=text).first
    cell.scroll_into_view_if_needed()
    cell.locator(".jp-InputPrompt").click()
    page.keyboard.press("Shift+Enter")
    page.wait_for_function("cell => /\\[\\d+\\]/.test(cell.querySelector('.jp-InputPrompt').textContent)",
                           arg=cell.element_handle(), timeout=120_000)
    return cell


def explorer_state(cell):
    """(output size shown by the explorer, the diagram's image source) as rendered in the page."""
    message = cell.locator(".widget-html", has_text="output:").first.inner_text()
    size = re.search(r"output: (\d+)x(\d+)", message)
    assert size, f"the explorer shows no output size: {message!r}"
    image = cell.locator(".jp-OutputArea-output img").first
    image.wait_for()
    return int(size.group(1)), image.get_attribute("src")


def wait_for_new_state(cell, previous, timeout_s=30):
    deadline = time.monotonic() + timeout_s
    while True:
        state = explorer_state(cell)
        if state[0] != previous[0] and state[1] != previous[1]:
            return state
        assert time.monotonic() < deadline, f"the explorer did not update (still {state[0]})"
        time.sleep(0.25)


def test_lesson_01_explorer_follows_its_sliders(browser_page, tmp_path):
    from unet_lib import conv_transpose_output_size

    page = browser_page
    with running_lab(tmp_path) as lab:
        open_notebook(page, lab, "01_transpose_convolution.ipynb")
        run_cell_containing(page, "import unet_lib")
        cell = run_cell_containing(page, "explorer = transpose_explorer(")
        assert page.locator(STDERR_OUTPUT).count() == 0, page.locator(STDERR_OUTPUT).first.inner_text()
        state = explorer_state(cell)
        assert state[0] == conv_transpose_output_size(4, 3, stride=2, padding="same")
        screenshot(page, "lesson01_explorer_start")

        stride = cell.locator(".widget-hslider", has=page.locator(".widget-label", has_text=re.compile("^stride$")))
        stride.locator(".noUi-handle").focus()
        page.keyboard.press("ArrowRight")  # stride 2 -> 3
        state = wait_for_new_state(cell, state)
        assert state[0] == conv_transpose_output_size(4, 3, stride=3, padding="same")
        screenshot(page, "lesson01_explorer_stride_3")

        padding = cell.locator(".widget-dropdown", has=page.locator(".widget-label", has_text=re.compile("^padding$")))
        padding.locator("select").select_option(label="1")
        state = wait_for_new_state(cell, state)
        assert state[0] == conv_transpose_output_size(4, 3, stride=3, padding=1)
        screenshot(page, "lesson01_explorer_padding_1")


def test_a_blank_lesson_01_runs_every_cell_in_jupyterlab_and_ends_with_what_is_left(browser_page, tmp_path):
    # A learner's workbook: Run All goes past the exercises not written yet (each says so in one line), so the
    # explorer, which needs none of them, renders; the last cell lists what is left.
    from classroom_fixture import course_release

    page = browser_page
    project = shutil.copytree(course_release(), tmp_path / "workbook")
    with running_lab(tmp_path / "lab", project=project, environment={"PYTHONPATH": str(project)}) as lab:
        assert lab.opened == "lessons/00_setup.ipynb"  # where a learner starts
        page.goto(f"{lab.base_url}/?token={lab.token}")  # the address `make lab` opens in the browser
        page.locator(".jp-Notebook .jp-CodeCell").first.wait_for()  # the first lesson opens by itself
        assert page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").count() == 0
        screenshot(page, "workbook_opens_on_lesson_00")
        open_notebook(page, lab, "01_transpose_convolution.ipynb")
        run_menu_command(page, "Run", "Run All Cells")
        wait_until_all_cells_ran(page)
        assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']").count() == 0
        cell = page.locator(".jp-Notebook .jp-CodeCell", has_text="explorer = transpose_explorer(").first
        cell.scroll_into_view_if_needed()
        assert explorer_state(cell)[0] > 0  # rendered, with its output size
        screenshot(page, "workbook_lesson01_explorer_1280")
        page.set_viewport_size({"width": 900, "height": 900})
        cell.scroll_into_view_if_needed()
        widths = cell.locator(".jp-OutputArea-output img").evaluate_all("images => images.map(i => i.clientWidth)")
        assert len(widths) == 2 and min(widths) >= 300, widths  # legible, not shrunk to half
        screenshot(page, "workbook_lesson01_explorer_900")
        last = page.locator(".jp-Notebook .jp-CodeCell").last
        last.scroll_into_view_if_needed()
        assert "Still to write in this lesson:" in last.locator(".jp-OutputArea").inner_text()


LESSONS = sorted((REPO_ROOT / "lessons").glob("*.ipynb"))
# In the notebook shown (lessons opened before stay in hidden tabs).
MARKDOWN = '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-MarkdownCell .jp-RenderedMarkdown'
IMAGES = f'{MARKDOWN} img'
IMAGES_STATE = """images => images.map(image => ({src: image.getAttribute('src'), complete: image.complete,
                                                   width: image.naturalWidth}))"""


def wait_until_markdown_rendered(page, lesson: Path):
    """Wait until every markdown cell of ``lesson`` is rendered and holds its images (none left as source)."""
    notebook = nbformat.read(lesson, as_version=4)
    n_markdown = sum(cell.cell_type == "markdown" for cell in notebook.cells)
    page.wait_for_function(
        """([nMarkdown, nImages, markdown, images]) =>
            document.querySelectorAll(markdown).length === nMarkdown
            && document.querySelectorAll(images).length === nImages""",
        arg=[n_markdown, len(image_links(lesson)), MARKDOWN, IMAGES], timeout=60_000)


def figure_problems(page, lab, lesson: Path) -> list[str]:
    """Open ``lesson`` (not run it: rendering its markdown is all this needs), scroll to each of its figures and
    screenshot it; return one line per figure that did not load."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    links = image_links(lesson)
    open_notebook(page, lab, lesson.name, wait_for_kernel=False)
    wait_until_markdown_rendered(page, lesson)
    images = page.locator(IMAGES)
    for index in range(images.count()):
        image = images.nth(index)
        image.scroll_into_view_if_needed()
        try:
            page.wait_for_function("image => image.complete && image.naturalWidth > 0",
                                   arg=image.element_handle(), timeout=10_000)
        except PlaywrightTimeout:  # the figure never loaded: reported below, with the others
            pass
        screenshot(page, f"{lesson.stem}_figure{index + 1}")
    state = images.evaluate_all(IMAGES_STATE)
    return [f"{lesson.name}: {link} did not load (shown as src={image['src']!r}, naturalWidth {image['width']})"
            for link, image in zip(links, state, strict=True) if not (image["complete"] and image["width"] > 0)]


def test_every_figure_of_every_lesson_loads_in_make_lab(browser_page, tmp_path):
    # The figures live in media/, beside lessons/, linked as ../media/x.png: they show only because `make lab`
    # serves the folder above lessons/. Every markdown cell is rendered (windowing is off), no cell is run.
    repository = copy_repository(tmp_path / "repository")
    lessons = sorted((repository / "lessons").glob("*.ipynb"))
    assert [lesson.name for lesson in lessons] == [lesson.name for lesson in LESSONS]
    assert sum(len(image_links(lesson)) for lesson in lessons) > 0
    with running_lab(tmp_path, project=repository) as lab:
        problems = [problem for lesson in lessons for problem in figure_problems(browser_page, lab, lesson)]
    assert problems == [], "\n".join(problems)
