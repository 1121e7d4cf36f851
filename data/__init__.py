"""Model input data: images turned into tensors by the preprocessing a model records, and
.npz/.npy input files (see `preprocess`)."""

from .preprocess import (
    IMAGE_SUFFIXES,
    InputDataError,
    InputSpec,
    Preprocess,
    input_file_kind,
    input_specs,
    is_image_file,
    load_image,
    load_inputs,
    preprocess_image,
)

__all__ = [
    "IMAGE_SUFFIXES",
    "InputDataError",
    "InputSpec",
    "Preprocess",
    "input_file_kind",
    "input_specs",
    "is_image_file",
    "load_image",
    "load_inputs",
    "preprocess_image",
]
