"""The ONNX frontend. `import_onnx(path, ...)` gives a top-dialect Module."""

from .importer import ImportOptions, UnsupportedOps, import_onnx  # noqa: F401
