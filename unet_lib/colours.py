"""The course's colours, shared by the lessons' plots, the explorer and the figures of ``media/``.

Kept apart from :mod:`unet_lib.display` so that drawing code can use them without importing matplotlib first.
"""

OKABE_ITO = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "black": "#000000",
}
"""The eight colours of the Okabe-Ito palette, distinguishable with every common colour-vision deficiency."""

CLASS_COLOURS = ("#E8E8E8", OKABE_ITO["blue"], OKABE_ITO["orange"])
"""Colour of each class of the embedded dataset: background, disc, triangle."""
