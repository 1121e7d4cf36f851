"""kiln.data.dataset: every source kind, the choice of samples, errors, and lazy loading."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from data_case import bin_file, entry, npy, npz, png
from kiln.compiler.errors import UserError
from kiln.data.dataset import DatasetError, load_dataset
from kiln.data.preprocess import Preprocess, preprocess_image

PRE = Preprocess(mean=(1.0, 2.0, 3.0), scale=(0.5,), resize_dims=(10, 12))
IMAGE_MODEL = entry(("images", (1, 3, 8, 10), "float32"), images={"images": PRE})
ONE = entry(("x", (2, 3), "float32"))
TWO = entry(("input_ids", (1, 4), "int64"), ("pixel/values", (1, 2), "float32"))


def test_image_folder_skips_what_is_not_data_with_one_warning(tmp_path):
    for k in range(3):
        png(tmp_path / f"img{k}.png", seed=k)
    (tmp_path / "tmp.txt").write_text("notes")
    (tmp_path / "labels.csv").write_text("a,b")
    (tmp_path / "thumbs").mkdir()
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    data = load_dataset(IMAGE_MODEL, dataset=tmp_path)
    assert len(data) == 3 and sorted(data.names) == ["img0.png", "img1.png", "img2.png"]
    assert len(data.warnings) == 1
    warning = data.warnings[0]
    assert "tmp.txt" in warning and "labels.csv" in warning and "thumbs/" in warning
    assert ".DS_Store" not in warning and "3 entries" in warning
    for name, sample in zip(data.names, data):
        assert list(sample) == ["images"]
        want = preprocess_image(tmp_path / name, PRE, (1, 3, 8, 10))
        np.testing.assert_array_equal(sample["images"], want)


def test_npy_folder_converts_within_the_kind(tmp_path):
    arrays = {f"s{k}.npy": np.full((2, 3), k, np.float64) for k in range(4)}
    for name, a in arrays.items():
        npy(tmp_path / name, a)
    data = load_dataset(ONE, dataset=tmp_path)
    for name, sample in zip(data.names, data):
        assert sample["x"].dtype == np.float32
        np.testing.assert_array_equal(sample["x"], arrays[name])


def test_npz_folder_feeds_every_input_by_name(tmp_path):
    for k in range(2):
        npz(tmp_path / f"{k}.npz", input_ids=np.full((1, 4), k, np.int32),
            **{"pixel/values": np.full((1, 2), k + 0.5, np.float32), "extra": np.zeros(3)})
    data = load_dataset(TWO, dataset=tmp_path)
    samples = dict(zip(data.names, data))
    assert list(samples["1.npz"]) == ["input_ids", "pixel/values"]
    assert samples["1.npz"]["input_ids"].dtype == np.int64
    np.testing.assert_array_equal(samples["1.npz"]["pixel/values"], [[1.5, 1.5]])


def test_raw_bin_folder_for_a_single_input(tmp_path):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    bin_file(tmp_path / "a.bin", a)
    (sample,) = load_dataset(ONE, dataset=tmp_path)
    np.testing.assert_array_equal(sample["x"], a)


def test_two_level_folder_one_file_per_input(tmp_path):
    for k in range(3):
        d = tmp_path / f"sample{k}"
        d.mkdir()
        npy(d / "input_ids.npy", np.full((1, 4), k, np.int64))
        bin_file(d / "pixel_values.bin", np.full((1, 2), -k, np.float32))  # sanitized name
    (tmp_path / "README").write_text("how this was made")
    (tmp_path / "sample1" / "note.txt").write_text("x")
    data = load_dataset(TWO, dataset=tmp_path)
    assert sorted(data.names) == ["sample0", "sample1", "sample2"]
    assert len(data.warnings) == 1 and "README" in data.warnings[0] \
        and "sample1/note.txt" in data.warnings[0]
    for name, sample in zip(data.names, data):
        k = int(name[-1])
        np.testing.assert_array_equal(sample["input_ids"], np.full((1, 4), k))
        np.testing.assert_array_equal(sample["pixel/values"], np.full((1, 2), -k))


def test_two_level_bin_takes_the_inputs_integer_type(tmp_path):
    d = tmp_path / "0"
    d.mkdir()
    bin_file(d / "input_ids.bin", [[1, 2, 3, 4]], dtype="<i8")
    npy(d / "pixel_values.npy", np.zeros((1, 2), np.float32))
    (sample,) = load_dataset(TWO, dataset=tmp_path)
    assert sample["input_ids"].dtype == np.int64
    np.testing.assert_array_equal(sample["input_ids"], [[1, 2, 3, 4]])


def test_two_level_folder_with_an_image_input(tmp_path):
    model = entry(("images", (1, 3, 8, 10), "float32"), ("scale", (1,), "float32"),
                  images={"images": PRE})
    d = tmp_path / "a"
    d.mkdir()
    png(d / "images.png")
    npy(d / "scale.npy", np.ones(1, np.float32))
    (sample,) = load_dataset(model, dataset=tmp_path)
    np.testing.assert_array_equal(sample["images"],
                                  preprocess_image(d / "images.png", PRE, (1, 3, 8, 10)))


def test_data_list_with_comments_relative_paths_and_per_input_files(tmp_path):
    (tmp_path / "d").mkdir()
    for k in range(3):
        npy(tmp_path / "d" / f"ids{k}.npy", np.full((1, 4), k, np.int64))
        npy(tmp_path / "d" / f"px{k}.npy", np.full((1, 2), k, np.float32))
    folder = tmp_path / "d" / "s9"
    folder.mkdir()
    npy(folder / "input_ids.npy", np.full((1, 4), 9, np.int64))
    npy(folder / "pixel_values.npy", np.full((1, 2), 9, np.float32))
    (folder / "extra.txt").write_text("x")
    (folder / "meta.json").write_text("{}")
    listing = tmp_path / "list.txt"
    listing.write_text("# calibration samples\n\n d/ids2.npy , d/px2.npy\nd/ids0.npy,d/px0.npy\n"
                       "   # indented comment\nd/s9\nd/ids1.npy,d/px1.npy\n")
    data = load_dataset(TWO, data_list=listing, input_num=3)
    assert data.names == ["d/ids2.npy , d/px2.npy", "d/ids0.npy,d/px0.npy", "d/s9"]
    assert [int(s["input_ids"][0, 0]) for s in data] == [2, 0, 9]
    assert data.notes == []
    assert data.warnings == [f"{listing}: skipped 2 entries that are not data: d/s9/extra.txt, "
                             f"d/s9/meta.json"]


def test_data_list_of_images_for_a_single_input(tmp_path):
    png(tmp_path / "b.png", seed=1)
    png(tmp_path / "a.png", seed=2)
    (tmp_path / "list.txt").write_text("b.png\na.png\n")
    data = load_dataset(IMAGE_MODEL, data_list=tmp_path / "list.txt")
    assert data.names == ["b.png", "a.png"]  # a list keeps its own order


def _files(folder, n):
    for k in range(n):
        npy(folder / f"f{k:02d}.npy", np.full((2, 3), k, np.float32))


def test_choice_is_deterministic_for_a_seed_and_a_prefix_for_fewer(tmp_path):
    _files(tmp_path, 20)
    a = load_dataset(ONE, dataset=tmp_path, input_num=8, seed=3)
    b = load_dataset(ONE, dataset=tmp_path, input_num=8, seed=3)
    c = load_dataset(ONE, dataset=tmp_path, input_num=8, seed=4)
    assert a.names == b.names and a.names != c.names
    assert a.names != sorted(a.names)  # shuffled, not the first files by name
    more = load_dataset(ONE, dataset=tmp_path, input_num=12, seed=3)
    assert more.names[:8] == a.names
    assert more.take(8).names == a.names and len(more.take(100)) == 12
    for name, sample in zip(a.names, a):
        assert sample["x"][0, 0] == int(name[1:3])


def test_input_num_none_or_too_large_takes_everything_with_a_note(tmp_path):
    _files(tmp_path, 5)
    data = load_dataset(ONE, dataset=tmp_path, input_num=50)
    assert len(data) == 5 and "input_num 50" in data.notes[0] and "all 5" in data.notes[0]
    assert len(load_dataset(ONE, dataset=tmp_path)) == 5
    with pytest.raises(DatasetError, match="at least 1"):
        load_dataset(ONE, dataset=tmp_path, input_num=0)


def test_wrong_shape_is_an_error_naming_the_file(tmp_path):
    _files(tmp_path, 3)
    npy(tmp_path / "f01.npy", np.zeros((3, 2), np.float32))
    with pytest.raises(DatasetError, match=r"f01\.npy: input 'x' has shape \[3, 2\]") as e:
        load_dataset(ONE, dataset=tmp_path)
    assert isinstance(e.value, UserError)


@pytest.mark.parametrize("write, message", [
    (lambda p: bin_file(p / "a.bin", np.zeros(5)), r"a\.bin: 20 bytes, but input 'x'"),
    (lambda p: (p / "a.npy").write_bytes(b"not numpy"), r"a\.npy: not a readable \.npy"),
    (lambda p: (p / "a.npz").write_bytes(b"PK junk"), r"a\.npz: not a readable \.npz"),
    (lambda p: npy(p / "a.npy", np.zeros((2, 3), np.int32)), r"a\.npy: input 'x' is int32"),
    (lambda p: npz(p / "a.npz", y=np.zeros((2, 3)), z=np.zeros(1)), r"no array for input"),
])
def test_unusable_files_are_errors_naming_them(tmp_path, write, message):
    write(tmp_path)
    with pytest.raises(DatasetError, match=message):
        load_dataset(ONE, dataset=tmp_path)


def test_a_broken_image_is_an_error_naming_it(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(DatasetError, match=r"bad\.jpg: cannot decode the image"):
        load_dataset(IMAGE_MODEL, dataset=tmp_path)


def test_a_truncated_image_fails_when_loaded_naming_it(tmp_path):
    path = png(tmp_path / "cut.png", size=(40, 40))
    path.write_bytes(path.read_bytes()[:200])
    data = load_dataset(IMAGE_MODEL, dataset=tmp_path)  # the header is fine
    with pytest.raises(DatasetError, match=r"cut\.png: cannot decode"):
        list(data)


def test_images_need_recorded_preprocessing(tmp_path):
    png(tmp_path / "a.png")
    with pytest.raises(DatasetError, match="preprocessing"):
        load_dataset(entry(("images", (1, 3, 8, 10), "float32")), dataset=tmp_path)


def test_zero_samples_is_an_error(tmp_path):
    with pytest.raises(DatasetError, match="no usable samples"):
        load_dataset(ONE, dataset=tmp_path)
    (tmp_path / "tmp.txt").write_text("x")
    with pytest.raises(DatasetError, match=r"no usable samples.*tmp\.txt"):
        load_dataset(ONE, dataset=tmp_path)
    (tmp_path / "list.txt").write_text("# nothing yet\n\n")
    with pytest.raises(DatasetError, match="no usable samples"):
        load_dataset(ONE, data_list=tmp_path / "list.txt")


def test_source_errors(tmp_path):
    with pytest.raises(DatasetError, match="neither"):
        load_dataset(ONE)
    with pytest.raises(DatasetError, match="both"):
        load_dataset(ONE, dataset=tmp_path, data_list=tmp_path / "l.txt")
    with pytest.raises(DatasetError, match="no such folder"):
        load_dataset(ONE, dataset=tmp_path / "missing")
    with pytest.raises(DatasetError, match="no such file"):
        load_dataset(ONE, data_list=tmp_path / "missing.txt")


def test_data_list_errors_name_file_and_line(tmp_path):
    npy(tmp_path / "a.npy", np.zeros((1, 4), np.int64))
    listing = tmp_path / "list.txt"
    listing.write_text("# header\na.npy,missing.npy\n")
    with pytest.raises(DatasetError, match=r"list\.txt:2: no such file or folder: .*missing"):
        load_dataset(TWO, data_list=listing)
    listing.write_text("a.npy,a.npy,a.npy\n")
    with pytest.raises(DatasetError, match=r"list\.txt:1: 3 paths, but the model has 2"):
        load_dataset(TWO, data_list=listing)
    (tmp_path / "notes.txt").write_text("x")
    listing.write_text("notes.txt\n")
    with pytest.raises(DatasetError, match=r"list\.txt:1: .*notes\.txt is not a data file"):
        load_dataset(ONE, data_list=listing)


def test_two_level_sample_without_a_file_for_an_input(tmp_path):
    d = tmp_path / "s0"
    d.mkdir()
    npy(d / "input_ids.npy", np.zeros((1, 4), np.int64))
    npy(d / "pixels.npy", np.zeros((1, 2), np.float32))
    with pytest.raises(DatasetError, match=r"s0: no file for input 'pixel/values'.*pixels\.npy"):
        load_dataset(TWO, dataset=tmp_path)


def test_single_file_kinds_cannot_feed_a_multi_input_model(tmp_path):
    npy(tmp_path / "a.npy", np.zeros((1, 4), np.int64))
    with pytest.raises(DatasetError, match=r"a\.npy: a \.npy file feeds one input"):
        load_dataset(TWO, dataset=tmp_path)


def test_loading_is_lazy(tmp_path):
    _files(tmp_path, 3)
    data = load_dataset(ONE, dataset=tmp_path)
    for name in data.names:  # rewritten after the Dataset was made: iteration reads them now
        npy(tmp_path / name, np.full((2, 3), 7, np.float32))
    assert all((s["x"] == 7).all() for s in data)


def test_memory_does_not_grow_with_the_number_of_samples(tmp_path):
    sample_bytes = 256 * 1024
    model = entry(("x", (1, sample_bytes // 4), "float32"))
    for k in range(40):
        npy(tmp_path / f"{k}.npy", np.full((1, sample_bytes // 4), k, np.float32))
    data = load_dataset(model, dataset=tmp_path)
    tracemalloc.start()
    try:
        total = 0.0
        for sample in data:
            total += float(sample["x"][0, 0])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == sum(range(40))
    assert peak < 4 * sample_bytes, f"peak {peak} bytes while iterating 40 samples"
