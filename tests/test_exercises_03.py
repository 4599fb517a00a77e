"""Lesson 03's arithmetic exercises: the receptive field of a stack of layers, and the unpadded U-Net's sizes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unet_lib.checks.core import Case, CheckFailed, Raises

# One encoder level of the U-Net (two 3x3 convolutions, a 2x2 pooling), and the depth-4 stack to the bottleneck.
LEVEL = [(3, 1), (3, 1), (2, 2)]
TO_BOTTLENECK = LEVEL * 4 + [(3, 1), (3, 1)]


def test_receptive_field_is_the_layer_formula_and_the_known_u_net_numbers():
    from unet_lib.reference.arithmetic import receptive_field

    assert receptive_field(TO_BOTTLENECK) == 140  # lesson 04: the MOOC U-Net's bottleneck sees 140x140
    assert receptive_field(LEVEL) == 6
    assert receptive_field([]) == 1
    rng = np.random.default_rng(0)
    for _ in range(20):
        layers = [(int(k), int(s)) for k, s in rng.integers(1, 6, size=(rng.integers(1, 7), 2))]
        expected = 1 + sum((k - 1) * math.prod(s for _, s in layers[:position])
                           for position, (k, _) in enumerate(layers))
        assert receptive_field(layers) == expected


def test_receptive_field_agrees_with_a_brute_force_one_dimensional_stack():
    # An independent computation: push a one-pixel impulse at each input position through "valid" 1-D max
    # windows (a window of k taps every s pixels) and see which reach output pixel 0.
    from unet_lib.reference.arithmetic import receptive_field

    def reaches_output_zero(layers, size, position):
        signal = np.zeros(size, dtype=bool)
        signal[position] = True
        for k, s in layers:
            signal = np.array([signal[start:start + k].any() for start in range(0, len(signal) - k + 1, s)])
        return bool(signal[0])

    for layers in (TO_BOTTLENECK, [(2, 2), (3, 1)], [(3, 2), (5, 3), (2, 1)], [(4, 4), (4, 4)]):
        seen = [p for p in range(200) if reaches_output_zero(layers, 200, p)]
        assert seen == list(range(receptive_field(layers))), layers


@pytest.mark.parametrize("layers", [[(0, 1)], [(3, 0)], [(3, 1), (-2, 2)], [(3, 1.5)], [(3,)], [3]])
def test_receptive_field_refuses_what_is_not_positive_kernel_and_stride_pairs(layers):
    from unet_lib.reference.arithmetic import receptive_field

    with pytest.raises(ValueError, match=r"layers\[\d\]"):
        receptive_field(layers)


def test_unpadded_unet_sizes_are_the_papers():
    from unet_lib.reference.arithmetic import unpadded_unet_sizes

    # Ronneberger et al., figure 1: 572 -> 568 (skip), 280, 136, 64, bottleneck 28, then 52, 100, 196, 388.
    assert unpadded_unet_sizes(572) == [568, 280, 136, 64, 28, 52, 100, 196, 388]
    assert unpadded_unet_sizes(188) == [184, 88, 40, 16, 4, 4, 4, 4, 4]  # the smallest tile depth 4 takes
    for depth in (1, 2, 3, 4, 5):  # the output loses the same border whatever the (valid) input size
        valid = [size for size in range(1, 700) if _valid(size, depth)]
        losses = {size - unpadded_unet_sizes(size, depth)[-1] for size in valid}
        assert len(losses) == 1, depth


def _valid(size, depth):
    from unet_lib.reference.arithmetic import unpadded_unet_sizes

    try:
        unpadded_unet_sizes(size, depth)
    except ValueError:
        return False
    return True


def test_unpadded_unet_sizes_agree_with_keras_shapes():
    # An independent computation: Keras's own shape arithmetic for the unpadded layers, one level at a time.
    from unet_lib import keras
    from unet_lib.reference.arithmetic import unpadded_unet_sizes

    conv, pool = keras.layers.Conv2D(1, 3), keras.layers.MaxPooling2D(2)
    up = keras.layers.Conv2DTranspose(1, 2, strides=2)

    def size_after(layers, size):
        shape = (1, size, size, 1)
        for layer in layers:
            shape = layer.compute_output_shape(shape)
        return shape[1]

    for size, depth in ((572, 4), (188, 4), (92, 3), (20, 1)):
        sizes, x = [], size
        for _ in range(depth):
            sizes.append(size_after([conv, conv], x))
            x = size_after([pool], sizes[-1])
        sizes.append(size_after([conv, conv], x))
        for _ in range(depth):
            sizes.append(size_after([up, conv, conv], sizes[-1]))
        assert unpadded_unet_sizes(size, depth) == sizes


@pytest.mark.parametrize(("size", "depth", "message"), [
    (574, 4, "odd"), (571, 4, "odd"), (10, 1, "at least 3"), (172, 4, "at least 3"), (0, 4, "input_size"),
    (572, 0, "depth"), (572.0, 4, "input_size"), (True, 1, "input_size")])
def test_unpadded_unet_sizes_refuses_sizes_the_network_cannot_take(size, depth, message):
    from unet_lib.reference.arithmetic import unpadded_unet_sizes

    with pytest.raises(ValueError, match=message):
        unpadded_unet_sizes(size, depth)


# A correct answer written differently from the reference, for each exercise.
def receptive_field_backwards(layers):
    field = 1
    for k, s in reversed([tuple(layer) for layer in layers]):
        if k < 1 or s < 1:
            raise ValueError("layers: sizes must be positive")
        field = (field - 1) * s + k
    return field


def unpadded_sizes_affine(input_size, depth=4):
    if input_size < 1 or depth < 1:
        raise ValueError("input_size and depth must be positive")
    sizes, x = [], input_size
    for level in range(depth + 1):
        if x < 5:
            raise ValueError("too small")
        sizes.append(x - 4)
        if level < depth:
            if sizes[-1] % 2:
                raise ValueError("odd")
            x = sizes[-1] // 2
    for _ in range(depth):
        if 2 * sizes[-1] < 5:
            raise ValueError("too small")
        sizes.append(2 * sizes[-1] - 4)
    return sizes


def hidden_cases_with_answers(name):
    """The hidden cases of exercise ``name`` with the reference's answers (``Raises`` where it raises)."""
    from unet_lib.checks import receptive
    from unet_lib.reference import arithmetic

    cases = []
    for case in getattr(receptive, f"{name}_hidden_cases")():
        assert case.expected is None
        try:
            expected = getattr(arithmetic, name)(*case.args, **case.kwargs)
        except ValueError:
            expected = Raises("ValueError")
        cases.append(Case(case.label, case.args, expected, case.kwargs))
    assert any(isinstance(case.expected, Raises) for case in cases)
    return cases


def test_a_correct_answer_written_differently_passes_visible_and_hidden_cases(capsys):
    from unet_lib.checks.receptive import check_receptive_field, check_unpadded_unet_sizes

    for check, name, answer in ((check_receptive_field, "receptive_field", receptive_field_backwards),
                                (check_unpadded_unet_sizes, "unpadded_unet_sizes", unpadded_sizes_affine)):
        check(answer)
        check(answer, hidden_cases_with_answers(name))
    assert capsys.readouterr().out.count("✓") == 4


def test_the_visible_cases_differ_from_the_hidden_ones_and_are_plain_data():
    from course_tools import plain_data

    from unet_lib.checks import receptive

    for name in ("receptive_field", "unpadded_unet_sizes"):
        visible = getattr(receptive, f"{name}_cases")()
        hidden = getattr(receptive, f"{name}_hidden_cases")()
        assert {repr(c.args) + repr(c.kwargs) for c in visible}.isdisjoint(repr(c.args) + repr(c.kwargs)
                                                                            for c in hidden)
        for case in visible + hidden:
            plain_data.encode((case.args, case.kwargs, case.expected, case.mistakes))


@pytest.mark.parametrize(("mistake", "answer"), [
    ("ignoring the strides", lambda layers: 1 + sum(k - 1 for k, _ in layers)),
    ("multiplying each layer's k - 1 by its own stride too",
     lambda layers: 1 + sum((k - 1) * math.prod(s for _, s in layers[:p + 1]) for p, (k, _) in enumerate(layers))),
    ("adding k, not k - 1",
     lambda layers: 1 + sum(k * math.prod(s for _, s in layers[:p]) for p, (k, _) in enumerate(layers))),
])
def test_each_receptive_field_slip_is_named(mistake, answer):
    from unet_lib.checks.receptive import check_receptive_field

    with pytest.raises(CheckFailed, match=f"This is what {mistake}.* gives.\nexpected"):
        check_receptive_field(answer)


def _slipped_sizes(encoder_convs=2, bottleneck_convs=2, decoder_convs=2):
    # A learner's slip that computes with floor division (no size checks), as such an answer usually does.
    def sizes(input_size, depth=4):
        found, x = [], input_size
        for _ in range(depth):
            found.append(x - 2 * encoder_convs)
            x = found[-1] // 2
        found.append(x - 2 * bottleneck_convs)
        for _ in range(depth):
            found.append(2 * found[-1] - 2 * decoder_convs)
        return found

    return sizes


@pytest.mark.parametrize(("mistake", "answer"), [
    ("one 3x3 convolution per level", _slipped_sizes(1, 1, 1)),
    ("leaving out the decoder's convolutions", _slipped_sizes(decoder_convs=0)),
    ("leaving out the bottleneck's convolutions", _slipped_sizes(bottleneck_convs=0)),
])
def test_each_unpadded_sizes_slip_is_named(mistake, answer):
    from unet_lib.checks.receptive import check_unpadded_unet_sizes

    with pytest.raises(CheckFailed, match=f"This is what {mistake}.* gives.\n"):
        check_unpadded_unet_sizes(answer)


def test_an_answer_that_calls_the_library_fails():
    from unet_lib.checks.receptive import check_receptive_field, check_unpadded_unet_sizes
    from unet_lib.reference import arithmetic

    for check, name in ((check_receptive_field, "receptive_field"), (check_unpadded_unet_sizes, "unpadded_unet_sizes")):
        library = getattr(arithmetic, name)
        with pytest.raises(CheckFailed, match=f"calls the course library's unet_lib.reference.arithmetic.{name}"):
            check(lambda *args, library=library, **kwargs: library(*args, **kwargs))


def test_the_exercises_are_exported_and_declared_for_lesson_03():
    from course_tools.exercises import discover_exercises

    import unet_lib
    import unet_lib.checks

    exercises = discover_exercises("unet_lib")
    for name, points in (("receptive_field", 2), ("unpadded_unet_sizes", 2)):
        assert exercises[name].lessons == ("04_unet",) and exercises[name].points == points
        assert callable(getattr(unet_lib, name)) and callable(getattr(unet_lib, f"check_{name}"))
        assert callable(getattr(unet_lib.checks, f"check_{name}"))


def test_the_lessons_answers_pass_the_visible_and_hidden_cases(capsys):
    from pathlib import Path

    import nbformat

    from unet_lib.checks import receptive

    namespace = {}
    lesson = Path(__file__).resolve().parents[1] / "lessons" / "04_unet.ipynb"
    for cell in nbformat.read(lesson, as_version=4).cells:
        if cell.cell_type == "code" and cell.source.startswith(("def receptive_field(", "def unpadded_unet_sizes(")):
            exec(cell.source, namespace)  # noqa: S102 - the lesson's own answer cell
    for name in ("receptive_field", "unpadded_unet_sizes"):
        check = getattr(receptive, f"check_{name}")
        check(namespace[name])
        check(namespace[name], hidden_cases_with_answers(name))
    assert capsys.readouterr().out.count("✓") == 4
