"""The course figures: committed, non-trivial, exactly what the code draws, with the library's numbers."""

from __future__ import annotations

import inspect
import io
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from course_tools import figures
from course_tools.cli import main
from course_tools.figures import (
    ENCODER_DECODER_CONFIG,
    FIGURES,
    SCENE_SEED,
    UNET_CONFIG,
    draw_all,
    encoder_decoder_shapes,
    label_instances,
)
from matplotlib.text import Text
from PIL import Image

from unet_lib.data import CLASS_NAMES, make_shapes_dataset
from unet_lib.reference.arithmetic import conv_transpose_output_size
from unet_lib.reference.convolution import conv2d, conv_transpose2d


@pytest.fixture(scope="module")
def redrawn_folder(tmp_path_factory):
    """Where :func:`draw_all` writes the figures for this module."""
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def drawn(redrawn_folder):
    """Every figure drawn once for the whole module (the U-Net one builds a model), written by ``draw_all``."""
    return draw_all(redrawn_folder)


def _texts(figure) -> list[str]:
    return [text.get_text() for text in figure.figure.findobj(Text)]


def _assert_drawn(figure, strings):
    """Every string in ``strings`` is written in ``figure`` at least as many times as it occurs there."""
    missing = Counter(strings) - Counter(_texts(figure))
    assert not missing, f"{figure.name}: not drawn: {dict(missing)}"


def _numbers(array) -> list[str]:
    return [str(int(value)) for value in np.asarray(array).ravel()]


def _pixels(png: bytes | str) -> np.ndarray:
    with Image.open(io.BytesIO(png) if isinstance(png, bytes) else png) as image:
        return np.asarray(image.convert("RGBA"))


def test_every_figure_is_committed_and_non_trivial(repo_root):
    for name in FIGURES:
        path = repo_root / "media" / f"{name}.png"
        assert path.is_file(), f"{path} is missing: run `python -m course_tools figures`"
        pixels = _pixels(str(path))
        height, width, _ = pixels.shape
        assert width == 960 and 150 <= height <= 800, f"{name}: {width}x{height} px"
        assert pixels[..., :3].std() > 20, f"{name}: almost uniform"
        colours = np.unique(np.ascontiguousarray(pixels).view(np.uint32))  # one uint32 per RGBA pixel
        assert len(colours) > 50, f"{name}: too few colours to be a figure"


def test_redraw_is_pixel_identical_to_the_committed_file(drawn, redrawn_folder, repo_root):
    for name in drawn:
        committed = _pixels(str(repo_root / "media" / f"{name}.png"))
        redrawn = _pixels(str(redrawn_folder / f"{name}.png"))
        stale = f"media/{name}.png is not what the code draws: run `python -m course_tools figures`"
        assert committed.shape == redrawn.shape, f"{stale} (size {committed.shape[:2]}, drawn {redrawn.shape[:2]})"
        differing = int((committed != redrawn).any(axis=-1).sum())
        assert differing == 0, f"{stale} ({differing} pixels differ)"


def test_every_figure_is_shown_in_a_lesson(repo_root):
    lessons = "\n".join(path.read_text() for path in sorted((repo_root / "lessons").glob("*.ipynb")))
    unlinked = [name for name in FIGURES if f"../media/{name}.png" not in lessons]
    assert not unlinked, f"no lesson links ../media/NAME.png for {unlinked}"


NOTEBOOK_WIDTH_PX = 1000
"""About the width a notebook shows an image at without scaling it down."""
SMALLEST_FONT_PX = 13
"""Every text of every figure is at least this tall at the saved resolution (8 pt at 120 dpi)."""


def _font_sizes_px(figure) -> list[float]:
    """Size in pixels, at the dpi the PNG is saved with, of every visible non-empty text of ``figure``."""
    return [text.get_fontsize() * figures.DPI / 72 for text in figure.figure.findobj(Text)
            if text.get_visible() and text.get_text().strip()]


def test_every_figure_is_legible_at_the_width_a_notebook_shows(drawn):
    for name, figure in drawn.items():
        width = figure.figure.get_size_inches()[0] * figures.DPI
        assert width <= NOTEBOOK_WIDTH_PX, f"{name}: {width:.0f} px wide, a notebook would shrink it"
        smallest = min(_font_sizes_px(figure))
        assert smallest >= SMALLEST_FONT_PX, f"{name}: a text only {smallest:.1f} px tall"


def test_gather_scatter_figure_has_large_titles_and_labels(drawn):
    figure = drawn["normal_vs_tranpose"]
    png_width = _pixels(figure.png_bytes()).shape[1]
    assert png_width <= NOTEBOOK_WIDTH_PX
    sizes = _font_sizes_px(figure)
    assert min(sizes) >= 16, f"smallest text {min(sizes):.1f} px"  # 10 pt at 120 dpi
    assert max(sizes) >= 21  # the two titles, 13 pt
    _assert_drawn(figure, ["Convolution: gather", "Transposed convolution: scatter", "input 4×4", "output 2×2",
                           "input 2×2", "output 4×4"])


def test_transpose_conv_figure_draws_the_library_numbers(drawn):
    figure = drawn["transpose_conv"]
    x, kernel, output = figure.data["input"], figure.data["kernel"], figure.data["output"]
    np.testing.assert_array_equal(output, conv_transpose2d(x, kernel))
    np.testing.assert_array_equal(output, [[0, 0, 1], [0, 4, 6], [4, 12, 9]])  # d2l.ai's worked example
    np.testing.assert_array_equal(figure.data["partials"].sum(axis=0), output)
    for (row, column), partial in zip(figure.data["pixels"], figure.data["partials"], strict=True):
        placed = np.zeros_like(output)
        placed[row:row + 2, column:column + 2] = x[row, column] * kernel
        np.testing.assert_array_equal(partial, placed)
    copies = [value for (row, column), partial in zip(figure.data["pixels"], figure.data["partials"], strict=True)
              for value in _numbers(partial[row:row + 2, column:column + 2])]
    _assert_drawn(figure, _numbers(x) + _numbers(kernel) + copies + _numbers(output))


def test_padding_figure_crops_where_the_library_and_keras_do(drawn):
    from unet_lib import keras

    figure = drawn["transpose_conv1"]
    data = figure.data
    x, kernel, stride = data["input"], data["kernel"], data["stride"]
    assert (data["full_size"], data["plain_size"], data["output_size"], data["keras_same_size"]) == (5, 3, 4, 4)
    assert data["plain_size"] == conv_transpose_output_size(2, 3, stride=2, padding=1)
    np.testing.assert_array_equal(data["full"], conv_transpose2d(x, kernel, stride=stride))
    np.testing.assert_array_equal(data["output"], conv_transpose2d(x, kernel, stride=2, padding=1, output_padding=1))
    # padding=1 crops the first row and column; output_padding=1 keeps the last ones.
    assert data["crop_start"] == (1, 1)
    np.testing.assert_array_equal(data["output"], data["full"][1:, 1:])
    # Keras's "same" keeps the first 4 rows and columns instead, as the figure says.
    assert data["keras_same_crop_start"] == (0, 0)
    layer = keras.layers.Conv2DTranspose(1, 3, strides=stride, padding="same", use_bias=False)
    layer.build((1, 2, 2, 1))
    layer.set_weights([kernel.reshape(3, 3, 1, 1)])
    keras_output = keras.ops.convert_to_numpy(layer(x.reshape(1, 2, 2, 1).astype("float32")))[0, :, :, 0]
    np.testing.assert_allclose(keras_output, data["full"][:4, :4])
    _assert_drawn(figure, _numbers(x) + _numbers(kernel) + _numbers(data["full"]) + _numbers(data["output"]))
    formula = next(text for text in _texts(figure) if text.startswith("size:"))
    assert formula.endswith(f"= {data['plain_size']},   + output_padding 1 = {data['output_size']}")


def test_gather_and_scatter_windows_are_the_same_pixels(drawn):
    data = drawn["normal_vs_tranpose"].data
    assert (data["conv_input_size"], data["conv_output_size"], data["transpose_output_size"]) == (4, 2, 4)
    expected = np.zeros((4, 4), dtype=bool)
    expected[0:3, 1:4] = True  # output pixel (0, 1) of a 3x3 convolution reads rows 0-2, columns 1-3
    np.testing.assert_array_equal(data["gather_window"], expected)
    np.testing.assert_array_equal(data["scatter_window"], expected)
    # The gather window straight from conv2d: which input pixels change output pixel (0, 1).
    for pixel in np.ndindex(4, 4):
        one_pixel = np.zeros((4, 4))
        one_pixel[pixel] = 1.0
        assert (conv2d(one_pixel, np.ones((3, 3)))[0, 1] != 0) == expected[pixel]


def _layer_for(stage: str) -> str:
    """The model layer whose output is a stage of :func:`encoder_decoder_shapes`."""
    if stage in ("input", "bottleneck"):
        return {"input": "image", "bottleneck": "bottleneck_conv2"}[stage]
    # "encoder2" and "decoder1" are a block's output, its second convolution; others name a layer.
    return f"{stage}_conv2" if re.fullmatch(r"(en|de)coder\d+", stage) else stage


def _model_shape(model, layer_name):
    return tuple(int(side) for side in model.get_layer(layer_name).output.shape[1:])


@pytest.mark.parametrize("skips", [False, True])
def test_encoder_decoder_shapes_match_the_model(skips):
    from unet_lib.reference.model import unet_model

    config = ENCODER_DECODER_CONFIG
    height, width = config["image_size"]
    model = unet_model((height, width, config["channels"]), n_filters=config["n_filters"],
                       n_classes=config["n_classes"], depth=config["depth"], skip_connections=skips)
    for stage, shape in encoder_decoder_shapes(**config, skips=skips):
        assert shape == _model_shape(model, _layer_for(stage)), stage


def test_encoder_decoder_figures_draw_those_shapes(drawn):
    stages = dict(encoder_decoder_shapes(**ENCODER_DECODER_CONFIG))
    example = drawn["segmen_example"]
    assert example.data["stages"] == [(stage, stages[stage]) for stage in (
        "encoder1_pool", "encoder2_pool", "encoder3_pool", "bottleneck", "decoder1", "decoder2", "decoder3", "logits")]
    _assert_drawn(example, [f"{h}×{w}\n×{c}" for _, (h, w, c) in example.data["stages"]])

    u_net = drawn["unet-skip-conn"]
    shapes = dict(u_net.data["stages"])
    assert u_net.data["skips"] == [("encoder1", "decoder3_concat"), ("encoder2", "decoder2_concat"),
                                   ("encoder3", "decoder1_concat")]
    texts = "\n".join(_texts(u_net))
    for encoder, concat in u_net.data["skips"]:
        skip, joined = ("×".join(map(str, shapes[stage])) for stage in (encoder, concat))
        assert f"skip: copy {skip}, concatenate → {joined}" in texts


def test_unet_figure_draws_the_default_model(drawn):
    from unet_lib.reference.model import unet_model

    figure = drawn["unet"]
    defaults = inspect.signature(unet_model).parameters
    assert {key: defaults[key].default for key in UNET_CONFIG} == UNET_CONFIG
    assert figure.data["n_params"] == 8_640_471  # the MOOC assignment's U-Net, as model.py documents
    shapes = figure.data["shapes"]
    for level in range(1, 5):
        scale, decoder = 2 ** (level - 1), 5 - level
        assert shapes[f"encoder{level}_conv2"] == (96 // scale, 128 // scale, 32 * scale)
        assert shapes[f"encoder{level}_pool"] == (48 // scale, 64 // scale, 32 * scale)
        assert shapes[f"decoder{decoder}_upsample"] == (96 // scale, 128 // scale, 32 * scale)
        assert shapes[f"decoder{decoder}_concat"] == (96 // scale, 128 // scale, 64 * scale)
        assert shapes[f"decoder{decoder}_conv2"] == (96 // scale, 128 // scale, 32 * scale)
    assert shapes["bottleneck_conv2"] == (6, 8, 512)
    assert shapes["logits"] == (96, 128, 23)
    texts = "\n".join(_texts(figure))
    assert "8,640,471 parameters" in texts
    for shape in shapes.values():
        assert "×".join(map(str, shape)) in texts
    # Only the fourth encoder drops out (dropout_prob 0.3 there in the MOOC's U-Net), and the figure says so.
    assert figure.data["dropout"] == [4]
    assert "encoder4\n2 × conv 3×3, ReLU, dropout" in texts and "encoder3\n2 × conv 3×3, ReLU\n" in texts


def test_instance_figure_labels_an_embedded_scene(drawn):
    data = drawn["instance_seg"].data
    images, masks = make_shapes_dataset(64, image_size=ENCODER_DECODER_CONFIG["image_size"], seed=SCENE_SEED)
    np.testing.assert_array_equal(data["mask"], masks[data["scene_index"]])
    np.testing.assert_array_equal(data["image"], images[data["scene_index"]])
    np.testing.assert_array_equal(data["instances"], label_instances(data["mask"]))
    classes = list(data["instance_classes"])
    assert sorted(set(classes)) == [1, 2] and len(classes) > 2, "the scene must have both classes and two of one"
    for instance_id, class_index in enumerate(classes, start=1):
        assert set(np.unique(data["mask"][data["instances"] == instance_id])) == {class_index}
    counts = np.bincount(data["mask"].ravel(), minlength=3)
    assert data["image_label"] == CLASS_NAMES[1 + int(np.argmax(counts[1:]))]
    tags = [f"{CLASS_NAMES[c]} {classes[:k + 1].count(c)}" for k, c in enumerate(classes)]  # "disc 1", "disc 2"...
    _assert_drawn(drawn["instance_seg"], tags)


def test_label_instances_separates_regions_of_one_class():
    mask = np.array([
        [1, 1, 0, 1],
        [0, 1, 0, 1],
        [2, 0, 1, 0],  # (2, 2) touches (1, 1) only at a corner: a separate region
        [2, 2, 1, 1],
    ])
    expected = np.array([
        [1, 1, 0, 2],
        [0, 1, 0, 2],
        [3, 0, 4, 0],
        [3, 3, 4, 4],
    ])
    np.testing.assert_array_equal(label_instances(mask), expected)
    # Touching regions of different classes stay apart; a U shape is one region.
    np.testing.assert_array_equal(label_instances(np.array([[1, 2], [1, 2]])), [[1, 2], [1, 2]])
    u_shape = np.array([[1, 0, 1], [1, 0, 1], [1, 1, 1]])
    np.testing.assert_array_equal(label_instances(u_shape), u_shape)
    np.testing.assert_array_equal(label_instances(np.array([[5, 0], [0, 5]]), background=5), [[0, 1], [2, 0]])
    assert label_instances(np.zeros((3, 3), dtype=int)).max() == 0


def test_solidity_tells_one_convex_object_from_two_touching():
    square = np.zeros((8, 8), dtype=bool)
    square[2:6, 2:6] = True
    assert figures._solidity(square) == pytest.approx(1.0)
    rows, columns = np.mgrid[:30, :60]
    one_disc = (rows - 14) ** 2 + (columns - 14) ** 2 <= 12**2
    two_discs = one_disc | ((rows - 14) ** 2 + (columns - 36) ** 2 <= 12**2)  # overlapping: one region
    assert label_instances(two_discs.astype(int)).max() == 1
    assert figures._solidity(one_disc) > 0.9 > figures._solidity(two_discs)


@pytest.mark.parametrize("bad", [np.zeros((2, 2, 2), dtype=int), np.zeros((2, 2)), [1, 2, 3]])
def test_label_instances_rejects_bad_masks(bad):
    with pytest.raises(ValueError, match="mask must be a 2-D integer array"):
        label_instances(bad)


def test_figures_verb_draws_all_into_the_folder_given(drawn, monkeypatch, capsys):
    calls = []
    # The drawing itself is tested above; here only the wiring, without drawing everything again.
    monkeypatch.setattr(figures, "draw_all", lambda out_dir: calls.append(out_dir) or drawn)
    assert main(["figures", "--out", "some/folder"]) == 0
    assert calls == [Path("some/folder")]
    assert capsys.readouterr().out.splitlines() == [str(Path("some/folder") / f"{name}.png") for name in FIGURES]


def test_draw_all_rejects_a_file_as_folder(tmp_path):
    not_a_folder = tmp_path / "media"
    not_a_folder.write_text("")
    with pytest.raises(ValueError, match="out_dir must be a folder"):
        draw_all(not_a_folder)
