"""The benchmarks' pictures (bench/photos.py): shapes, determinism, the mix of people_scenes.
Needs scikit-image (the `bench` extra); skipped without it."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("skimage")
import photos


def test_people_scenes_are_deterministic_rgb_pictures_of_the_size():
    a = photos.people_scenes(10, 64, seed=3)
    b = photos.people_scenes(10, 64, seed=3)
    assert len(a) == 10
    assert all(x.shape == (64, 64, 3) and x.dtype == np.uint8 for x in a)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_people_scenes_seeds_differ_and_follow_the_five_kinds():
    a = photos.people_scenes(5, 64, seed=0)
    b = photos.people_scenes(5, 64, seed=1)
    assert not any(np.array_equal(x, y) for x, y in zip(a, b))
    mosaic = a[3]  # LFW faces are grey: the three channels are equal
    assert np.array_equal(mosaic[..., 0], mosaic[..., 1])
    assert np.array_equal(a[4], photos.photo_crops(1, 64, seed=1000)[0])
