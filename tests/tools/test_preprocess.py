"""The image preprocessing contract (kiln.data.preprocess) and input file loading."""

from __future__ import annotations

import re

import numpy as np
import pytest
from kiln.data.preprocess import (
    InputDataError,
    InputSpec,
    Preprocess,
    load_image,
    load_inputs,
    preprocess_image,
)
from PIL import Image

F32 = np.dtype(np.float32)


def write(path, pixels, mode=None, **kw):
    Image.fromarray(pixels, mode=mode).save(path, **kw)
    return path


@pytest.fixture
def rgb(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    return write(tmp_path / "rgb.png", pixels), pixels


def test_normalization_per_channel_in_nchw(rgb):
    path, pixels = rgb
    pre = Preprocess(mean=(1, 2, 3), scale=(0.5, 0.25, 2.0))
    got = preprocess_image(path, pre, (1, 3, 20, 24))
    want = ((pixels.astype(np.float32) - np.float32([1, 2, 3])) * np.float32([0.5, 0.25, 2]))
    assert got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, want.transpose(2, 0, 1)[None])


def test_nhwc_bgr_and_batch(rgb):
    path, pixels = rgb
    got = preprocess_image(path, Preprocess(pixel_format="bgr", channel_format="nhwc"),
                           (2, 20, 24, 3))
    assert got.shape == (2, 20, 24, 3)
    np.testing.assert_array_equal(got[0], pixels[:, :, ::-1].astype(np.float32))
    np.testing.assert_array_equal(got[1], got[0])


def test_gray_uses_the_luma_weights(rgb):
    path, pixels = rgb
    got = preprocess_image(path, Preprocess(pixel_format="gray"), (1, 1, 20, 24))
    p = pixels.astype(np.float64)
    luma = (p[:, :, 0] * 299 + p[:, :, 1] * 587 + p[:, :, 2] * 114) / 1000
    assert np.abs(got[0, 0] - luma).max() <= 1.0


def test_resize_is_pillow_bilinear(rgb):
    path, pixels = rgb
    got = preprocess_image(path, Preprocess(), (1, 3, 10, 16))
    want = np.asarray(Image.fromarray(pixels).resize((16, 10), Image.Resampling.BILINEAR),
                      np.float32)
    np.testing.assert_array_equal(got[0].transpose(1, 2, 0), want)


def test_centre_crop_after_resize_dims(rgb):
    path, pixels = rgb
    # resize_dims equal to the image size: no resampling, then crop 16x16 at (2, 4)
    got = preprocess_image(path, Preprocess(resize_dims=(20, 24)), (1, 3, 16, 16))
    np.testing.assert_array_equal(got[0].transpose(1, 2, 0), pixels[2:18, 4:20])


def test_keep_aspect_ratio_pads_centred(tmp_path):
    pixels = np.random.default_rng(1).integers(0, 256, (10, 20, 3), dtype=np.uint8)
    path = write(tmp_path / "wide.png", pixels)
    pre = Preprocess(mean=(100,), scale=(0.5,), keep_aspect_ratio=True, pad_value=114)
    got = preprocess_image(path, pre, (1, 3, 16, 16))[0].transpose(1, 2, 0)
    pad = (114 - 100) * 0.5
    # 10x20 scaled by min(16/10, 16/20) = 0.8 -> 8x16, placed at row (16 - 8) // 2 = 4
    np.testing.assert_array_equal(got[:4], pad)
    np.testing.assert_array_equal(got[12:], pad)
    inner = np.asarray(Image.fromarray(pixels).resize((16, 8), Image.Resampling.BILINEAR),
                       np.float32)
    np.testing.assert_array_equal(got[4:12], (inner - 100) * np.float32(0.5))


def test_keep_aspect_ratio_then_crop(tmp_path):
    pixels = np.full((30, 10, 3), 200, np.uint8)
    path = write(tmp_path / "tall.png", pixels)
    pre = Preprocess(keep_aspect_ratio=True, pad_value=0, resize_dims=(18, 18))
    got = preprocess_image(path, pre, (1, 3, 16, 16))[0, 0]
    # 30x10 into 18x18: 18x6 at column 6; crop 16x16 from (1, 1): image at columns 5..10
    assert (got[:, 5:11] == 200).all()
    assert (got[:, :5] == 0).all() and (got[:, 11:] == 0).all()


def test_integer_inputs_are_rounded_and_clipped(rgb):
    path, pixels = rgb
    got = preprocess_image(path, Preprocess(), (1, 3, 20, 24), np.uint8)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got[0].transpose(1, 2, 0), pixels)
    signed = preprocess_image(path, Preprocess(mean=(128,)), (1, 3, 20, 24), np.int8)
    np.testing.assert_array_equal(signed[0].transpose(1, 2, 0),
                                  np.clip(pixels.astype(np.int16) - 128, -128, 127))


def test_alpha_and_palette_images(tmp_path):
    rgba = np.random.default_rng(2).integers(0, 256, (6, 7, 4), dtype=np.uint8)
    path = write(tmp_path / "rgba.png", rgba, mode="RGBA")
    np.testing.assert_array_equal(load_image(path, "rgb"), rgba[:, :, :3])
    pal = Image.fromarray(rgba[:, :, :3]).convert("P")
    pal.save(tmp_path / "pal.gif")
    assert load_image(tmp_path / "pal.gif", "rgb").shape == (6, 7, 3)
    assert load_image(tmp_path / "pal.gif", "gray").shape == (6, 7, 1)


def test_deterministic_for_jpeg(tmp_path, rgb):
    _, pixels = rgb
    path = write(tmp_path / "x.jpg", pixels, quality=90)
    pre = Preprocess(mean=(0.5,), scale=(1 / 255,), resize_dims=(17, 17))
    a = preprocess_image(path, pre, (1, 3, 13, 15))
    b = preprocess_image(path, pre, (1, 3, 13, 15))
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("pre, shape, fragment", [
    (Preprocess(resize_dims=(8, 30)), (1, 3, 16, 16), "smaller than"),
    (Preprocess(pixel_format="gray"), (1, 3, 16, 16), "gives 1 channel"),
    (Preprocess(channel_format="nhwc"), (1, 3, 16, 16), "has 16"),
    (Preprocess(mean=(1, 2)), (1, 3, 16, 16), "mean has 2 values"),
    (Preprocess(), (1, 3, 16), "must be 4-D"),
    (Preprocess(), (1, 3, -1, 16), "dynamic"),
    (Preprocess(pixel_format="yuv"), (1, 3, 4, 4), "pixel format 'yuv'"),
])
def test_bad_settings(rgb, pre, shape, fragment):
    with pytest.raises(InputDataError, match=re.escape(fragment)):
        preprocess_image(rgb[0], pre, shape)


def test_undecodable_and_missing_images(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(InputDataError, match="cannot decode"):
        load_image(tmp_path / "bad.png", "rgb")
    with pytest.raises(InputDataError, match="no such file"):
        load_image(tmp_path / "none.png", "rgb")


def test_attributes_round_trip():
    pre = Preprocess(mean=(1.0,), scale=(0.5, 0.25, 2.0), pixel_format="bgr",
                     keep_aspect_ratio=True, pad_value=3.0)
    attrs = pre.to_attributes((1, 3, 8, 9))
    assert attrs["kiln.mean"] == (1.0, 1.0, 1.0)
    assert attrs["kiln.resize_dims"] == (8, 9)
    back = Preprocess.from_attributes(attrs)
    assert back == Preprocess(mean=(1.0, 1.0, 1.0), scale=(0.5, 0.25, 2.0), pixel_format="bgr",
                              resize_dims=(8, 9), keep_aspect_ratio=True, pad_value=3.0)
    assert Preprocess.from_attributes({"kiln.name": "x"}) is None
    with pytest.raises(InputDataError, match="resize_dims"):
        Preprocess.from_attributes({"kiln.resize_dims": (1, 2, 3)})
    with pytest.raises(InputDataError, match="pixel_format"):
        Preprocess.from_attributes({"kiln.pixel_format": 3})


def test_load_inputs_from_arrays(tmp_path):
    a = InputSpec("a", (2, 3), F32)
    b = InputSpec("b", (-1, 3), np.dtype(np.int64))
    np.savez(tmp_path / "ab.npz", a=np.ones((2, 3)), b=np.arange(12).reshape(4, 3), extra=[1])
    got = load_inputs(tmp_path / "ab.npz", [a, b])
    assert list(got) == ["a", "b"] and got["a"].dtype == np.float32
    assert got["b"].shape == (4, 3)
    np.save(tmp_path / "one.npy", np.zeros((2, 3)))
    assert load_inputs(tmp_path / "one.npy", [a])["a"].dtype == np.float32
    for path, specs, fragment in [
        (tmp_path / "one.npy", [a, b], "one input"),
        (tmp_path / "ab.npz", [a, InputSpec("c", (1,), F32)], "no array for input(s) c"),
        (tmp_path / "ab.npz", [InputSpec("a", (3, 3), F32)], "has shape [2, 3]"),
        (tmp_path / "ab.npz", [InputSpec("b", (4, 3), F32)], "is int64"),
        (tmp_path / "missing.npz", [a], "no such file"),
        (tmp_path / "ab.txt", [a], "no such file"),
    ]:
        with pytest.raises(InputDataError, match=re.escape(fragment)):
            load_inputs(path, specs)


def test_load_inputs_from_an_image(rgb):
    path, pixels = rgb
    image = InputSpec("img", (1, 3, 20, 24), F32, Preprocess())
    got = load_inputs(path, [image])
    np.testing.assert_array_equal(got["img"][0].transpose(1, 2, 0), pixels)
    with pytest.raises(InputDataError, match="none is recorded"):
        load_inputs(path, [InputSpec("img", (1, 3, 20, 24), F32)])
    with pytest.raises(InputDataError, match="single-input"):
        load_inputs(path, [image, InputSpec("other", (1,), F32)])
    with pytest.raises(InputDataError, match=r"input 'img': .*smaller"):
        load_inputs(path, [InputSpec("img", (1, 3, 20, 24), F32, Preprocess(resize_dims=(4, 4)))])
