"""The `.kmodel` device model file: write any module whose ops are registered, read it back.

The format is documented byte by byte in docs/kmodel.md. In short: a 64-byte header (magic,
version, target name, payload length, CRC32 of the payload), then the payload: a metadata
block (buffer table, weight table, module attributes, and per function a tensor table and the
op program) followed by the data region, where every buffer (weights, dense constants) starts
at a 64-byte aligned file offset.

Reading gives back a module equal to the one written: same ops, attributes, types, SSA names
and locs (so it prints to the same text), with the weights in an in-memory WeightStore, so the
interpreter computes bit-identical outputs. The same module always gives the same bytes.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from ..compiler.fileio import atomic_write_bytes
from ..compiler.interpreter import input_names, output_names, tensor_name
from ..compiler.ir import Function, Module, Operation, Value
from ..compiler.module_io import referenced_weights
from ..compiler.types import TensorType, scalar_type_of
from ..compiler.weights import WeightStore
from .binary import BufferPool, KModelError, Reader, Writer

MAGIC = b"KILNMDL\0"
VERSION = 1
HEADER_SIZE = 64
ALIGN = 64
TARGET_FIELD = 32
# magic, version, flags, target name, payload length, payload CRC32, reserved
_HEADER = struct.Struct("<8sII32sQII")
assert _HEADER.size == HEADER_SIZE


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


# -- writing -----------------------------------------------------------------------------------
def _write_function(w: Writer, func: Function) -> None:
    index: dict[int, int] = {}
    tensors: list[Value] = list(func.arguments)
    for op in func.body:
        tensors.extend(op.results)
    for i, v in enumerate(tensors):
        index[id(v)] = i

    w.str(func.name)
    w.u32(len(tensors))
    for v in tensors:
        w.opt_str(tensor_name(v, func))
        w.opt_str(v.name_hint)
        w.type(v.type)
    w.u32(len(func.arguments))
    for name, attrs in zip(input_names(func), func.arg_attributes):
        w.str(name)
        w.attr_dict(attrs)
    w.u32(len(func.result_types))
    for t in func.result_types:
        w.type(t)
    ret = func.return_op
    outputs = list(ret.operands) if ret is not None else []
    w.u32(len(outputs))
    for v, name in zip(outputs, output_names(func)):
        w.u32(index[id(v)])
        w.str(name)
    w.attr_dict(func.attributes)
    w.u32(len(func.body))
    for op in func.body:
        w.str(op.name)
        w.opt_str(op.loc)
        w.u32(len(op.operands))
        for v in op.operands:
            if id(v) not in index:
                raise KModelError(f"{op.describe()} uses a value defined outside "
                                  f"@{func.name} or after it")
            w.u32(index[id(v)])
        w.u32(len(op.results))
        for r in op.results:
            w.u32(index[id(r)])
        w.attr_dict(op.attributes)


def kmodel_bytes(module: Module, target_name: str = "int8-sym") -> bytes:
    """The bytes of the kmodel of `module` (see docs/kmodel.md)."""
    target = target_name.encode("utf-8")
    if not 0 < len(target) <= TARGET_FIELD or b"\0" in target:
        raise KModelError(f"target name {target_name!r} must be 1 to {TARGET_FIELD} bytes "
                          f"of UTF-8 without NUL")
    pool = BufferPool()
    w = Writer(pool)
    weights = sorted(referenced_weights(module))
    w.u32(len(weights))
    for name in weights:
        array = np.asarray(module.weights.get(name))
        try:
            scalar = scalar_type_of(array.dtype)
        except ValueError as e:
            raise KModelError(f"weight '{name}': {e}") from None
        w.str(name)
        w.type(TensorType(array.shape, scalar))
        w.u32(pool.add(array))
    w.opt_str(module.name)
    w.attr_dict(module.attributes)
    w.u32(len(module.functions))
    for func in module.functions:
        _write_function(w, func)
    body = w.getvalue()

    # the buffer table goes first, so a loader can map the data region before parsing the rest
    table = Writer(pool)
    table.u32(len(pool.blobs))
    offset = 0
    for blob in pool.blobs:
        table.u64(offset)
        table.u64(len(blob))
        offset = _align(offset + len(blob))
    meta = table.getvalue() + body

    parts = [struct.pack("<Q", len(meta)), meta]
    size = 8 + len(meta)
    data_start = _align(size)
    parts.append(b"\0" * (data_start - size))
    for i, blob in enumerate(pool.blobs):
        parts.append(blob)
        if i + 1 < len(pool.blobs):
            parts.append(b"\0" * (_align(len(blob)) - len(blob)))
    payload = b"".join(parts)
    header = _HEADER.pack(MAGIC, VERSION, 0, target, len(payload), zlib.crc32(payload), 0)
    return header + payload


def write_kmodel(module: Module, path: str | Path, target_name: str = "int8-sym") -> None:
    """Write `module` (and the weights it refers to) to `path` as a kmodel, atomically."""
    atomic_write_bytes(path, kmodel_bytes(module, target_name))


# -- reading -----------------------------------------------------------------------------------
def read_header(data: bytes, where: str) -> tuple[str, bytes]:
    """Check the header; return the target name and the verified payload."""
    if len(data) < HEADER_SIZE:
        if not MAGIC.startswith(data[:len(MAGIC)]):
            raise KModelError(f"{where}: not a kmodel file (wrong magic {data[:8]!r})")
        raise KModelError(f"{where}: file is truncated: {len(data)} bytes, shorter than the "
                          f"{HEADER_SIZE}-byte header")
    magic, version, _flags, target, length, crc, _ = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise KModelError(f"{where}: not a kmodel file (wrong magic {magic!r}, "
                          f"expected {MAGIC!r})")
    if version != VERSION:
        raise KModelError(f"{where}: unsupported kmodel format version {version} "
                          f"(this kiln reads version {VERSION})")
    available = len(data) - HEADER_SIZE
    if available < length:
        raise KModelError(f"{where}: file is truncated: the header announces a payload of "
                          f"{length} bytes but only {available} follow")
    if available > length:
        raise KModelError(f"{where}: {available - length} unexpected bytes after the payload")
    payload = data[HEADER_SIZE:]
    actual = zlib.crc32(payload)
    if actual != crc:
        raise KModelError(f"{where}: payload is corrupted: CRC32 is {actual:#010x}, the "
                          f"header says {crc:#010x}")
    try:
        name = target.rstrip(b"\0").decode("utf-8")
    except UnicodeDecodeError:
        raise KModelError(f"{where}: target name in the header is not UTF-8") from None
    return name, payload


def _read_function(r: Reader, module: Module) -> None:
    name = r.str()
    tensors = [(r.opt_str(), r.opt_str(), r.type()) for _ in range(r.u32())]
    n_args = r.u32()
    if n_args > len(tensors):
        raise r.fail(f"@{name} has {n_args} arguments but only {len(tensors)} tensors")
    arg_attrs = []
    for _ in range(n_args):
        r.str()  # the input name: derived from the attributes and SSA name, for runtimes
        arg_attrs.append(r.attr_dict())
    result_types = [r.type() for _ in range(r.u32())]
    for _ in range(r.u32()):  # outputs: the return op's operands, recorded for runtimes
        r.u32()
        r.str()
    func = Function(name, [t for _, _, t in tensors[:n_args]], result_types,
                    [hint for _, hint, _ in tensors[:n_args]], r.attr_dict(), arg_attrs)
    values: list[Value | None] = [*func.arguments, *[None] * (len(tensors) - n_args)]

    def lookup(i: int) -> Value:
        if i >= len(values) or values[i] is None:
            raise r.fail(f"op in @{name} uses tensor {i}, which is not defined before it")
        return values[i]

    for _ in range(r.u32()):
        op_name, loc = r.str(), r.opt_str()
        operands = [lookup(r.u32()) for _ in range(r.u32())]
        results = [r.u32() for _ in range(r.u32())]
        for i in results:
            if i < n_args or i >= len(values) or values[i] is not None:
                raise r.fail(f"'{op_name}' in @{name} defines tensor {i} twice or out of range")
        op = Operation.create(op_name, operands, [tensors[i][2] for i in results],
                              r.attr_dict(), loc)
        for i, res in zip(results, op.results):
            res.name_hint = tensors[i][1]
            values[i] = res
        func.body.append(op)
    module.add_function(func)


def parse_kmodel(data: bytes, where: str = "<kmodel>") -> tuple[str, Module]:
    """The target name and module stored in kmodel bytes."""
    from .. import dialects  # noqa: F401  (registers every op class)

    target, payload = read_header(data, where)
    if len(payload) < 8:
        raise KModelError(f"{where}: payload of {len(payload)} bytes has no metadata length")
    (meta_len,) = struct.unpack_from("<Q", payload)
    if 8 + meta_len > len(payload):
        raise KModelError(f"{where}: metadata length {meta_len} exceeds the payload")
    data_start = _align(8 + meta_len)
    buffers: list[tuple[int, int]] = []

    def buffer(index: int, t: TensorType) -> np.ndarray:
        if index >= len(buffers):
            raise r.fail(f"buffer {index} does not exist ({len(buffers)} buffers)")
        offset, nbytes = buffers[index]
        dtype = t.scalar.numpy_dtype.newbyteorder("<")
        if not t.is_static or nbytes != t.num_elements * dtype.itemsize:
            raise r.fail(f"buffer {index} has {nbytes} bytes, which does not hold {t}")
        start = data_start + offset
        array = np.frombuffer(payload, dtype=dtype, count=t.num_elements, offset=start)
        return array.astype(dtype.newbyteorder("="), copy=True).reshape(t.shape)

    r = Reader(payload[8:8 + meta_len], where, buffer)
    for _ in range(r.u32()):
        offset, nbytes = r.u64(), r.u64()
        if offset % ALIGN or data_start + offset + nbytes > len(payload):
            raise r.fail(f"buffer at offset {offset} of {nbytes} bytes is misaligned or "
                         f"outside the data region")
        buffers.append((offset, nbytes))
    store = WeightStore()
    for _ in range(r.u32()):
        name, t, index = r.str(), r.type(), r.u32()
        if not isinstance(t, TensorType):
            raise r.fail(f"weight '{name}' has non-tensor type {t!r}")
        store.add(name, buffer(index, t))
    store.dirty = False
    module = Module(r.opt_str(), r.attr_dict())
    module.weights = store
    module.source = where
    for _ in range(r.u32()):
        _read_function(r, module)
    if r.pos != len(r.data):
        raise r.fail(f"{len(r.data) - r.pos} unexpected bytes at the end of the metadata")
    return target, module


def read_kmodel(path: str | Path) -> Module:
    """The module stored in a kmodel file, with its weights in an in-memory WeightStore."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KModelError(f"{path}: no such file") from None
    except OSError as e:
        raise KModelError(f"{path}: cannot read ({e.strerror})") from None
    return parse_kmodel(data, str(path))[1]


def read_kmodel_target(path: str | Path) -> str:
    """The target name in a kmodel file's header (the payload is verified too)."""
    path = Path(path)
    return read_header(path.read_bytes(), str(path))[0]


__all__ = ["KModelError", "kmodel_bytes", "parse_kmodel", "read_kmodel", "read_kmodel_target",
           "write_kmodel"]
