"""Inception-ResNet-v1 (FaceNet), defined in code with the layer names of `facenet_keras.h5`.

The Keras file cannot be opened with `keras.models.load_model` on Keras 3 (its Lambda layers hold
Python 3.6 bytecode), so the network is rebuilt here and the weights copied in by layer name
(`weights.load_facenet_weights`). Hyper-parameters come from that file's config, which in turn came
from David Sandberg's TensorFlow FaceNet (20170512-110547).
"""

from __future__ import annotations

from typing import Any

from facefold.vision.runtime import import_tensorflow
from facefold.vision.shapes import CROP_SIZE, EMBEDDING_DIM

import_tensorflow()  # quietly, before Keras imports it

import keras  # noqa: E402
from keras import layers  # noqa: E402

BN_MOMENTUM = 0.995  # value found in the TensorFlow original
BN_EPSILON = 0.001  # value found in the TensorFlow original
BLOCK35_SCALE = 0.17  # residual scales of the three block kinds, from the original
BLOCK17_SCALE = 0.1
BLOCK8_SCALE = 0.2
DROPOUT_KEEP = 0.8  # the original's keep probability before the bottleneck


def _conv_bn(x: Any, filters: int, kernel: tuple[int, int], name: str, strides: int = 1,
             padding: str = "same", activate: bool = True) -> Any:
    x = layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False, name=name)(x)
    x = layers.BatchNormalization(axis=3, momentum=BN_MOMENTUM, epsilon=BN_EPSILON, scale=False,
                                  name=f"{name}_BatchNorm")(x)
    if activate:
        x = layers.Activation("relu", name=f"{name}_Activation")(x)
    return x


class ScaleSum(layers.Layer):
    """`inputs[0] + scale * inputs[1]`: the residual sum the original wrote as a Lambda."""

    def __init__(self, scale: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = scale

    def call(self, inputs: list[Any]) -> Any:
        return inputs[0] + self.scale * inputs[1]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale}


def _residual(x: Any, branches: list[Any], prefix: str, scale: float, activate: bool) -> Any:
    mixed = layers.Concatenate(axis=3, name=f"{prefix}_Concatenate")(branches)
    up = layers.Conv2D(int(x.shape[-1]), 1, padding="same", use_bias=True,
                       name=f"{prefix}_Conv2d_1x1")(mixed)
    x = ScaleSum(scale, name=f"{prefix}_ScaleSum")([x, up])
    if activate:
        x = layers.Activation("relu", name=f"{prefix}_Activation")(x)
    return x


def _block35(x: Any, i: int) -> Any:
    p = f"Block35_{i}"
    b0 = _conv_bn(x, 32, (1, 1), f"{p}_Branch_0_Conv2d_1x1")
    b1 = _conv_bn(x, 32, (1, 1), f"{p}_Branch_1_Conv2d_0a_1x1")
    b1 = _conv_bn(b1, 32, (3, 3), f"{p}_Branch_1_Conv2d_0b_3x3")
    b2 = _conv_bn(x, 32, (1, 1), f"{p}_Branch_2_Conv2d_0a_1x1")
    b2 = _conv_bn(b2, 32, (3, 3), f"{p}_Branch_2_Conv2d_0b_3x3")
    b2 = _conv_bn(b2, 32, (3, 3), f"{p}_Branch_2_Conv2d_0c_3x3")
    return _residual(x, [b0, b1, b2], p, BLOCK35_SCALE, activate=True)


def _two_branch(x: Any, p: str, width: int, k: int, scale: float, activate: bool) -> Any:
    """Block17 (width 128, 1×7 then 7×1) and Block8 (width 192, 1×3 then 3×1)."""
    b0 = _conv_bn(x, width, (1, 1), f"{p}_Branch_0_Conv2d_1x1")
    b1 = _conv_bn(x, width, (1, 1), f"{p}_Branch_1_Conv2d_0a_1x1")
    b1 = _conv_bn(b1, width, (1, k), f"{p}_Branch_1_Conv2d_0b_1x{k}")
    b1 = _conv_bn(b1, width, (k, 1), f"{p}_Branch_1_Conv2d_0c_{k}x1")
    return _residual(x, [b0, b1], p, scale, activate=activate)


def _block17(x: Any, i: int) -> Any:
    return _two_branch(x, f"Block17_{i}", 128, 7, BLOCK17_SCALE, activate=True)


def _block8(x: Any, i: int, scale: float, activate: bool) -> Any:
    return _two_branch(x, f"Block8_{i}", 192, 3, scale, activate)


def build_facenet() -> keras.Model:
    """Return an untrained Inception-ResNet-v1: (N, CROP_SIZE, CROP_SIZE, 3) standardised floats →
    (N, EMBEDDING_DIM) vectors.

    The output is the bottleneck after batch norm, not yet L2-normalised (as in the Keras file).
    """
    inp = keras.Input(shape=(CROP_SIZE, CROP_SIZE, 3), name="input_1")
    x = _conv_bn(inp, 32, (3, 3), "Conv2d_1a_3x3", strides=2, padding="valid")
    x = _conv_bn(x, 32, (3, 3), "Conv2d_2a_3x3", padding="valid")
    x = _conv_bn(x, 64, (3, 3), "Conv2d_2b_3x3")
    x = layers.MaxPooling2D(3, strides=2, name="MaxPool_3a_3x3")(x)
    x = _conv_bn(x, 80, (1, 1), "Conv2d_3b_1x1", padding="valid")
    x = _conv_bn(x, 192, (3, 3), "Conv2d_4a_3x3", padding="valid")
    x = _conv_bn(x, 256, (3, 3), "Conv2d_4b_3x3", strides=2, padding="valid")
    for i in range(1, 6):
        x = _block35(x, i)

    b0 = _conv_bn(x, 384, (3, 3), "Mixed_6a_Branch_0_Conv2d_1a_3x3", strides=2, padding="valid")
    b1 = _conv_bn(x, 192, (1, 1), "Mixed_6a_Branch_1_Conv2d_0a_1x1")
    b1 = _conv_bn(b1, 192, (3, 3), "Mixed_6a_Branch_1_Conv2d_0b_3x3")
    b1 = _conv_bn(b1, 256, (3, 3), "Mixed_6a_Branch_1_Conv2d_1a_3x3", strides=2, padding="valid")
    b2 = layers.MaxPooling2D(3, strides=2, name="Mixed_6a_Branch_2_MaxPool_1a_3x3")(x)
    x = layers.Concatenate(axis=3, name="Mixed_6a")([b0, b1, b2])
    for i in range(1, 11):
        x = _block17(x, i)

    b0 = _conv_bn(x, 256, (1, 1), "Mixed_7a_Branch_0_Conv2d_0a_1x1")
    b0 = _conv_bn(b0, 384, (3, 3), "Mixed_7a_Branch_0_Conv2d_1a_3x3", strides=2, padding="valid")
    b1 = _conv_bn(x, 256, (1, 1), "Mixed_7a_Branch_1_Conv2d_0a_1x1")
    b1 = _conv_bn(b1, 256, (3, 3), "Mixed_7a_Branch_1_Conv2d_1a_3x3", strides=2, padding="valid")
    b2 = _conv_bn(x, 256, (1, 1), "Mixed_7a_Branch_2_Conv2d_0a_1x1")
    b2 = _conv_bn(b2, 256, (3, 3), "Mixed_7a_Branch_2_Conv2d_0b_3x3")
    b2 = _conv_bn(b2, 256, (3, 3), "Mixed_7a_Branch_2_Conv2d_1a_3x3", strides=2, padding="valid")
    b3 = layers.MaxPooling2D(3, strides=2, name="Mixed_7a_Branch_3_MaxPool_1a_3x3")(x)
    x = layers.Concatenate(axis=3, name="Mixed_7a")([b0, b1, b2, b3])
    for i in range(1, 6):
        x = _block8(x, i, BLOCK8_SCALE, activate=True)
    x = _block8(x, 6, 1.0, activate=False)  # the last block: scale 1, no activation

    x = layers.GlobalAveragePooling2D(name="AvgPool")(x)
    x = layers.Dropout(1.0 - DROPOUT_KEEP, name="Dropout")(x)
    x = layers.Dense(EMBEDDING_DIM, use_bias=False, name="Bottleneck")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, scale=False,
                                  name="Bottleneck_BatchNorm")(x)
    return keras.Model(inp, x, name="inception_resnet_v1")
