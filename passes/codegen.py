"""`codegen{format=kmodel,path=out.kmodel,target=int8-sym}`: write the module as a device
model file; `format=onnx-qdq` writes an ONNX model in QDQ form instead (codegen/onnx_qdq.py,
opset 21; `target` does not apply). The module itself is left unchanged, so the pass can end
any pipeline and the tool still prints (or writes) the IR. A relative path is relative to the
working directory."""

from __future__ import annotations

from dataclasses import dataclass

from ..compiler.ir import Module
from ..compiler.pass_manager import Pass, PassError

FORMATS = ("kmodel", "onnx-qdq")


@dataclass(frozen=True)
class Codegen(Pass):
    name = "codegen"
    description = "write the module as a device model file (format=kmodel or onnx-qdq)"
    format: str = "kmodel"
    path: str = ""
    target: str = "int8-sym"

    def run(self, module: Module) -> None:
        if self.format not in FORMATS:
            raise PassError(f"codegen: unknown format '{self.format}' (known: "
                            f"{', '.join(FORMATS)})")
        if not self.path:
            raise PassError("codegen needs path=FILE")
        if self.format == "onnx-qdq":
            from ..codegen.onnx_qdq import write_onnx_qdq

            write_onnx_qdq(module, self.path)
            return
        from ..codegen.kmodel import write_kmodel

        write_kmodel(module, self.path, self.target)
