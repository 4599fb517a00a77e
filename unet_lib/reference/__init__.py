"""The graded reference: the code the course's exercises ask you to write, each taught in one lesson.

- :mod:`~unet_lib.reference.arithmetic`: output sizes of convolutions and transposed convolutions (lesson 01).
- :mod:`~unet_lib.reference.convolution`: convolution and transposed convolution in NumPy, loops and
  vectorised (lessons 01 and 02).
- :mod:`~unet_lib.reference.masks`: label masks, one-hot and from colours (lessons 00 and 06).
- :mod:`~unet_lib.reference.model`: the U-Net's blocks and model in Keras (lessons 03 and 04).

Write your own version in the lesson first; its self-check compares it with this code's answers. In a student
copy of the course the bodies of the graded functions here are removed.
"""
