"""Self-checks for lesson 04's arithmetic: the receptive field of a stack of layers, the unpadded U-Net's sizes."""

from __future__ import annotations

from collections.abc import Callable

from unet_lib.checks.core import Case, verify
from unet_lib.reference.arithmetic import receptive_field, unpadded_unet_sizes

# Each exercise, declared once (see unet_lib/checks/masks.py).
GRADED = {
    "receptive_field": {"function": "unet_lib.reference.arithmetic.receptive_field", "lessons": ["04_unet"],
                        "points": 2},
    "unpadded_unet_sizes": {"function": "unet_lib.reference.arithmetic.unpadded_unet_sizes", "lessons": ["04_unet"],
                            "points": 2},
}
LEVEL = [(3, 1), (3, 1), (2, 2)]  # one encoder level of the U-Net: two 3x3 convolutions, a 2x2 pooling


def receptive_field_cases() -> list[Case]:
    """Convolutions, poolings and strided convolutions, one axis each; the U-Net's encoder, one and two levels."""
    inputs = [("one 3x3 convolution", [(3, 1)]), ("two 3x3 convolutions", [(3, 1), (3, 1)]),
              ("one U-Net encoder level: conv 3, conv 3, pool 2", LEVEL),
              ("a 2x2 pooling, then a 3x3 convolution", [(2, 2), (3, 1)]),
              ("two U-Net encoder levels", LEVEL * 2),
              ("a 3x3 stride-2 convolution, then a 5x5 stride-3 one, then a 2x2", [(3, 2), (5, 3), (2, 1)]),
              ("no layers: a pixel sees itself", [])]

    # The usual slips, in the cases' body (a student copy replaces it with the recorded answers).
    def slips(layers):
        strides = [1]
        for _, s in layers:
            strides.append(strides[-1] * s)  # strides[l]: the product of the strides before layer l
        return {"ignoring the strides (1 + sum of k - 1)": 1 + sum(k - 1 for k, _ in layers),
                "multiplying each layer's k - 1 by its own stride too (the product up to and including it)":
                    1 + sum((k - 1) * strides[p + 1] for p, (k, _) in enumerate(layers)),
                "adding k, not k - 1, per layer": 1 + sum(k * strides[p] for p, (k, _) in enumerate(layers))}

    return [Case(label, (layers,), receptive_field(layers), {}, slips(layers)) for label, layers in inputs]


def receptive_field_hidden_cases() -> list[Case]:
    """Graded but not shown: the U-Net's encoder to the bottleneck at depths 1 to 5, other stacks, bad pairs."""
    cases = [Case(f"the U-Net's encoder and bottleneck, depth {depth}", (LEVEL * depth + [(3, 1), (3, 1)],), None)
             for depth in range(1, 6)]
    stacks = [[(7, 2), (3, 2), (3, 1)], [(1, 1)], [(2, 2)] * 3, [(4, 4), (4, 4)], [(5, 1), (1, 3), (3, 2), (2, 2)],
              [[3, 1], [2, 2]], [(0, 1)], [(3, 0)], [(3, 1), (-3, 1)]]
    return cases + [Case(f"layers {stack}", (stack,), None) for stack in stacks]


def check_receptive_field(learner_function: Callable[..., int], cases: list[Case] | None = None) -> None:
    """Check a learner's ``receptive_field(layers)`` (on ``cases``, if given)."""
    verify("receptive_field", learner_function, receptive_field_cases() if cases is None else cases)


def unpadded_unet_sizes_cases() -> list[Case]:
    """Depths 1 and 2 on small tiles, the paper's 572-pixel tile at depths 4 and 3, the smallest tile of depth 4."""
    inputs = [("20 pixels, depth 1", (20, 1), {}), ("60 pixels, depth 2", (60, 2), {}),
              ("572 pixels, depth 4 (the paper's tile)", (572,), {}), ("572 pixels, depth 3", (572, 3), {}),
              ("188 pixels, depth 4 (the smallest tile it takes)", (188,), {"depth": 4})]

    # The usual slips, computed with floor division and no size checks, as such an answer usually is.
    def slipped(input_size, depth=4, encoder=2, bottleneck=2, decoder=2):
        sizes, x = [], input_size
        for _ in range(depth):
            sizes.append(x - 2 * encoder)
            x = sizes[-1] // 2
        sizes.append(x - 2 * bottleneck)
        for _ in range(depth):
            sizes.append(2 * sizes[-1] - 2 * decoder)
        return sizes

    def slips(input_size, depth=4):
        found = {"one 3x3 convolution per level, not two": slipped(input_size, depth, 1, 1, 1),
                 "leaving out the decoder's convolutions": slipped(input_size, depth, decoder=0),
                 "leaving out the bottleneck's convolutions": slipped(input_size, depth, bottleneck=0)}
        return {slip: sizes for slip, sizes in found.items() if min(sizes) > 0}

    return [Case(label, args, unpadded_unet_sizes(*args, **kwargs), kwargs, slips(*args, **kwargs))
            for label, args, kwargs in inputs]


def unpadded_unet_sizes_hidden_cases() -> list[Case]:
    """Graded but not shown: other valid sizes at depths 1 to 5 (the default depth too), and sizes the unpadded
    U-Net cannot take: odd at a pooling, too small for a convolution, not positive."""
    inputs = [(204,), (572, 5), (92, 3), (44, 2), (18, 1), (300, 4), (574,), (19, 1), (10, 1), (172, 4), (0, 4),
              (572, 0)]
    return [Case(f"input_size={args[0]}, depth={(*args, 4)[1]}", args, None) for args in inputs]


def check_unpadded_unet_sizes(learner_function: Callable[..., list], cases: list[Case] | None = None) -> None:
    """Check a learner's ``unpadded_unet_sizes(input_size, depth=4)`` (on ``cases``, if given)."""
    verify("unpadded_unet_sizes", learner_function, unpadded_unet_sizes_cases() if cases is None else cases)
