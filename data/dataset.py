"""Calibration data: the samples `run_calibration` feeds the model, found from a folder or a
list file, chosen deterministically and loaded one at a time.

Sources (give exactly one of `dataset` / `data_list`):

- a folder of files, one sample per file: images (decoded and preprocessed as recorded on the
  model's input, see `preprocess`), `.npz` (one array per input, keyed by input name; a single
  array feeds a single-input model), `.npy` or raw `.bin` (single-input models);
- for any model, notably multi-input ones, a two-level folder (the Magik layout): one
  sub-folder per sample, holding one file per input named after the input (`<name>.npy`,
  `<name>.bin`, or an image for an input with recorded preprocessing). A name that is not a
  valid file name may be written in its sanitized form (characters other than letters,
  digits, `_ $ . -` replaced by `_`, as in the IR's argument names). The two-level layout is
  used when the folder holds sub-folders and no data files;
- a data list: one sample per line, a path (a file as above, or a sample sub-folder) or, for
  a multi-input model, `path1,path2,...` in the model's input order. Lines starting with `#`
  and blank lines are ignored; relative paths are relative to the list file.

A `.bin` file is raw little-endian data of the input's element type, holding exactly the
input's (static) shape.

Choice of samples: a folder's samples are sorted by name, shuffled with `random.Random(seed)`,
and the first `input_num` are taken, so a smaller `input_num` takes a prefix of a larger
one's choice (and `Dataset.take(n)` is the choice `input_num=n` would make). A data list is
taken in its own order (its first `input_num` lines). `input_num` None, or larger than what
is available, takes everything (with a note).

Entries of a folder that are not data (`notes.txt`, a sub-folder beside the files) are
skipped, all named in ONE warning; hidden files (`.DS_Store`) are skipped silently. A data
file that cannot be used (unreadable, wrong shape or type) is a `DatasetError` naming the file.
The chosen files are checked when the Dataset is made (headers only, cheap), and each sample
is read only when iterated, so memory does not grow with the number of samples.
"""

from __future__ import annotations

import random
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..compiler.errors import UserError
from .preprocess import (
    IMAGE_SUFFIXES,
    InputDataError,
    InputSpec,
    input_specs,
    load_inputs,
)

ARRAY_SUFFIXES = frozenset({".npz", ".npy", ".bin"})
DATA_SUFFIXES = ARRAY_SUFFIXES | IMAGE_SUFFIXES
_LISTED = 10  # names shown in a warning before "... and N more"


class DatasetError(UserError):
    """Calibration data that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Sample:
    """One sample: a file that feeds every input (`whole`), or one file per input (`parts`,
    input name -> path). `name` is how logs refer to it."""

    name: str
    whole: Path | None = None
    parts: tuple[tuple[str, Path], ...] = ()


class Dataset:
    """The chosen samples of a calibration data source; iterating loads one sample at a time
    as `{input name: array}` in the model's input order."""

    def __init__(self, specs: list[InputSpec], samples: list[Sample], source: str,
                 warnings: list[str] | None = None, notes: list[str] | None = None) -> None:
        self.specs = specs
        self.samples = samples
        self.source = source
        self.warnings = list(warnings or [])
        self.notes = list(notes or [])

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        for sample in self.samples:
            yield load_sample(sample, self.specs)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return load_sample(self.samples[index], self.specs)

    @property
    def names(self) -> list[str]:
        """The samples' names (file or folder names as found, list entries as written)."""
        return [s.name for s in self.samples]

    def take(self, n: int) -> Dataset:
        """The first `n` samples (all if fewer), e.g. for a search that needs fewer."""
        return Dataset(self.specs, self.samples[:max(n, 0)], self.source, self.warnings,
                       self.notes)

    def __repr__(self) -> str:
        return f"<Dataset {self.source}: {len(self)} samples>"


def load_dataset(func, dataset: str | Path | None = None, data_list: str | Path | None = None,
                 input_num: int | None = None, seed: int = 0, *, check: bool = True) -> Dataset:
    """The calibration samples for `func` (the module's entry Function) from a folder
    (`dataset`) or a list file (`data_list`); see the module docstring. With `check`, every
    chosen file is checked now (headers and sizes, not the data)."""
    specs = input_specs(func)
    if not specs:
        raise DatasetError("the model has no tensor inputs to feed")
    if (dataset is None) == (data_list is None):
        raise DatasetError("give either a dataset folder or a data list, not "
                           + ("both" if dataset is not None else "neither"))
    if input_num is not None and input_num < 1:
        raise DatasetError(f"input_num must be at least 1, got {input_num}")
    warnings: list[str] = []
    if dataset is not None:
        source = str(dataset)
        samples = _folder_samples(Path(dataset), specs, warnings)
        samples.sort(key=lambda s: s.name)
        random.Random(seed).shuffle(samples)
    else:
        source = str(data_list)
        samples = _list_samples(Path(data_list), specs, warnings)
    if not samples:
        raise DatasetError(f"{source}: no usable samples" + (f" ({warnings[0]})" if warnings
                                                             else ""))
    notes = []
    if input_num is None:
        notes.append(f"{source}: using all {len(samples)} samples")
    elif input_num > len(samples):
        notes.append(f"{source}: input_num {input_num} is more than the {len(samples)} "
                     f"samples available; using all {len(samples)}")
    else:
        samples = samples[:input_num]
    data = Dataset(specs, samples, source, warnings, notes)
    if check:
        for sample in samples:
            check_sample(sample, specs)
    return data


# -- finding samples ------------------------------------------------------------------------------
def _listing(names: list[str]) -> str:
    more = f" and {len(names) - _LISTED} more" if len(names) > _LISTED else ""
    return ", ".join(names[:_LISTED]) + more


def _warn_skipped(warnings: list[str], where: Path, skipped: list[str]) -> None:
    if skipped:
        n = len(skipped)
        warnings.append(f"{where}: skipped {n} entr{'y' if n == 1 else 'ies'} that "
                        f"{'is' if n == 1 else 'are'} not data: {_listing(skipped)}")


def _is_data(path: Path) -> bool:
    return path.suffix.lower() in DATA_SUFFIXES


def _folder_samples(folder: Path, specs: list[InputSpec], warnings: list[str]) -> list[Sample]:
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such folder")
    entries = sorted((p for p in folder.iterdir() if not p.name.startswith(".")),
                     key=lambda p: p.name)
    files = [p for p in entries if p.is_file() and _is_data(p)]
    dirs = [p for p in entries if p.is_dir()]
    if files or not dirs:
        skipped = [p.name + ("/" if p.is_dir() else "") for p in entries
                   if not (p.is_file() and _is_data(p))]
        _warn_skipped(warnings, folder, skipped)
        return [Sample(p.name, whole=p) for p in files]
    # the two-level layout: one sub-folder per sample
    skipped = [p.name for p in entries if not p.is_dir()]
    samples = []
    for d in dirs:
        sample, extra = _sample_folder(d, specs)
        samples.append(sample)
        skipped.extend(f"{d.name}/{name}" for name in extra)
    _warn_skipped(warnings, folder, skipped)
    return samples


def _sanitize(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_$.\-]", "_", name)


def _sample_folder(folder: Path, specs: list[InputSpec], name: str | None = None
                   ) -> tuple[Sample, list[str]]:
    """A two-level sample: one file per input; also the names of the files left over."""
    files = sorted((p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")),
                   key=lambda p: p.name)
    used: set[Path] = set()
    parts = []
    for spec in specs:
        stems = {spec.name, _sanitize(spec.name)}
        found = [p for p in files if p.stem in stems and (
            p.suffix.lower() in (".npy", ".bin") or p.suffix.lower() in IMAGE_SUFFIXES)]
        if not found:
            have = _listing([p.name for p in files]) or "no files"
            raise DatasetError(f"{folder}: no file for input '{spec.name}' (a dataset of "
                               f"sub-folders has one per sample, holding {spec.name}.npy or "
                               f"{spec.name}.bin; this one has {have})")
        if len(found) > 1:
            raise DatasetError(f"{folder}: several files for input '{spec.name}': "
                               f"{', '.join(p.name for p in found)}")
        used.add(found[0])
        parts.append((spec.name, found[0]))
    extra = [p.name for p in files if p not in used]
    return Sample(name or folder.name, parts=tuple(parts)), extra


def _list_samples(path: Path, specs: list[InputSpec], warnings: list[str]) -> list[Sample]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path}: cannot read the data list ({e})") from None
    base = path.parent
    samples, skipped = [], []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}:{number}"
        items = [item.strip() for item in line.split(",")]
        paths = [base / item for item in items]
        for item, p in zip(items, paths):
            if not item:
                raise DatasetError(f"{where}: empty path in '{line}'")
            if not p.exists():
                raise DatasetError(f"{where}: no such file or folder: {p}")
        if len(paths) == 1:
            p = paths[0]
            if p.is_dir():
                try:
                    sample, extra = _sample_folder(p, specs, name=line)
                except DatasetError as e:
                    raise DatasetError(f"{where}: {e}") from None
                skipped.extend(f"{item}/{name}" for name in extra)
                samples.append(sample)
            else:
                _check_kind(p, where)
                samples.append(Sample(line, whole=p))
            continue
        if len(paths) != len(specs):
            raise DatasetError(
                f"{where}: {len(paths)} paths, but the model has {len(specs)} input(s) "
                f"({', '.join(s.name for s in specs)}); give one path per input, in that order")
        for p in paths:
            _check_kind(p, where, per_input=True)
        samples.append(Sample(line, parts=tuple((s.name, p) for s, p in zip(specs, paths))))
    _warn_skipped(warnings, path, skipped)
    return samples


def _check_kind(path: Path, where: str, per_input: bool = False) -> None:
    suffixes = DATA_SUFFIXES - ({".npz"} if per_input else set())
    if not path.is_file() or path.suffix.lower() not in suffixes:
        kinds = ", ".join(sorted(suffixes))
        raise DatasetError(f"{where}: {path} is not a data file (expected one of: {kinds})")


# -- loading --------------------------------------------------------------------------------------
def load_sample(sample: Sample, specs: list[InputSpec]) -> dict[str, np.ndarray]:
    """Read one sample's arrays, keyed by input name, in the model's input order. A file of
    a two-level sample is read as the whole sample of a model with just its input."""
    try:
        if sample.whole is not None:
            return _load_file(sample.whole, specs)
        by_name = dict(sample.parts)
        return {s.name: _load_file(by_name[s.name], [s])[s.name] for s in specs}
    except InputDataError as e:
        raise DatasetError(str(e)) from None


def _load_file(path: Path, specs: list[InputSpec]) -> dict[str, np.ndarray]:
    if path.suffix.lower() != ".bin":
        return load_inputs(path, specs)
    _check_single(path, specs)
    try:
        dtype, shape = _bin_layout(path, specs[0])
        array = np.fromfile(path, dtype=dtype).reshape(shape)
    except OSError as e:
        raise DatasetError(f"{path}: cannot read ({e})") from None
    return {specs[0].name: array.astype(specs[0].dtype)}  # native byte order


def _check_single(path: Path, specs: list[InputSpec]) -> None:
    if len(specs) != 1:
        kind = path.suffix.lower()
        hint = "an .npz keyed by input name" if kind == ".npy" else "one sub-folder per sample"
        raise DatasetError(f"{path}: a {kind} file feeds one input, the model has {len(specs)} "
                           f"({', '.join(s.name for s in specs)}); use {hint}")


def _bin_layout(path: Path, spec: InputSpec) -> tuple[np.dtype, tuple[int, ...]]:
    if any(d < 0 for d in spec.shape):
        raise DatasetError(f"{path}: input '{spec.name}' has a dynamic shape {list(spec.shape)}"
                           f"; a raw .bin file cannot say its shape (use .npy)")
    dtype = spec.dtype.newbyteorder("<")
    expected = int(np.prod(spec.shape, dtype=np.int64)) * dtype.itemsize
    size = path.stat().st_size
    if size != expected:
        raise DatasetError(f"{path}: {size} bytes, but input '{spec.name}' "
                           f"({list(spec.shape)} {spec.dtype}) needs {expected}")
    return dtype, spec.shape


# -- cheap checks -------------------------------------------------------------------------------
def check_sample(sample: Sample, specs: list[InputSpec]) -> None:
    """Raise DatasetError if a file of `sample` cannot feed the model, reading only headers
    (npy/npz), sizes (bin) and image headers, never the data itself."""
    try:
        if sample.whole is not None:
            _check_file(sample.whole, specs)
        else:
            by_spec = {s.name: s for s in specs}
            for name, path in sample.parts:
                _check_file(path, [by_spec[name]])
    except OSError as e:
        raise DatasetError(f"{sample.name}: cannot read ({e})") from None


def _check_file(path: Path, specs: list[InputSpec]) -> None:
    suffix = path.suffix.lower()
    if suffix in (".bin", ".npy"):
        _check_single(path, specs)
        if suffix == ".bin":
            _bin_layout(path, specs[0])
        else:
            with open(path, "rb") as f:
                _check_array(path, specs[0], _read_header(f, path))
    elif suffix == ".npz":
        headers = _npz_headers(path)
        if len(specs) == 1 and len(headers) == 1 and specs[0].name not in headers:
            _check_array(path, specs[0], next(iter(headers.values())))
            return
        missing = [s.name for s in specs if s.name not in headers]
        if missing:
            raise DatasetError(f"{path}: no array for input(s) {', '.join(missing)} (it has "
                               f"{', '.join(sorted(headers)) or 'no arrays'})")
        for s in specs:
            _check_array(path, s, headers[s.name])
    else:
        if len(specs) != 1 or specs[0].preprocess is None:
            try:
                load_inputs(path, specs)  # raises its message before reading the image
            except InputDataError as e:
                raise DatasetError(str(e)) from None
        _check_image(path, specs[0])


def _check_array(path: Path, spec: InputSpec, header: tuple[tuple[int, ...], np.dtype]) -> None:
    """What `preprocess._fit` checks on a loaded array, from the file's header."""
    shape, dtype = header
    if len(shape) != len(spec.shape) or any(d >= 0 and d != s for d, s in zip(spec.shape, shape)):
        raise DatasetError(f"{path}: input '{spec.name}' has shape {list(shape)}, the model "
                           f"expects {list(spec.shape)}")
    if dtype != spec.dtype and not (dtype.kind == spec.dtype.kind == "f" or (
            dtype.kind in "iub" and spec.dtype.kind in "iub")):
        raise DatasetError(f"{path}: input '{spec.name}' is {dtype}, the model expects "
                           f"{spec.dtype}")


def _read_header(f, where: Path) -> tuple[tuple[int, ...], np.dtype]:
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    except (ValueError, EOFError) as e:
        raise DatasetError(f"{where}: not a readable .npy array ({e})") from None
    if dtype.hasobject:
        raise DatasetError(f"{where}: holds Python objects, not numbers")
    return tuple(shape), dtype


def _npz_headers(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    try:
        with zipfile.ZipFile(path) as zf:
            out = {}
            for member in zf.namelist():
                key = member[:-4] if member.endswith(".npy") else member
                with zf.open(member) as f:
                    out[key] = _read_header(f, Path(f"{path}[{key}]"))
            return out
    except (zipfile.BadZipFile, EOFError) as e:
        raise DatasetError(f"{path}: not a readable .npz file ({e})") from None


def _check_image(path: Path, spec: InputSpec) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.size  # noqa: B018 - the header is parsed on open
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DatasetError(f"{path}: cannot decode the image ({e})") from None
    try:
        spec.preprocess.check(spec.shape)
    except InputDataError as e:
        raise DatasetError(f"{path}: input '{spec.name}': {e}") from None


__all__ = ["Dataset", "DatasetError", "Sample", "check_sample", "load_dataset", "load_sample"]
