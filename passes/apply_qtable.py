"""`apply-qtable{table=PATH,target=int8-sym,default=INT8}`: each layer's mode.

Every computing op gets `kiln.mode = "<MODE>"`: the qtable's row for its loc, F32 for the
qtable's shape layers and for ops marked `kiln.exact` (mark-shape-ops), else `default`.
Modes are INT<n>, F16, BF16 or F32, and must be ones the target allows (its `mixed.modes`);
a mode it does not allow is an error naming the layer and the qtable line. `table` may be
empty, which gives every layer the default. The lowering (`lower-to-npu`) inserts the casts
where layers of different modes meet: this pass only decides, so its result can be read and
replayed (`kiln-opt --print-ir-after=apply-qtable`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..compiler.ir import Module
from ..compiler.pass_manager import Pass, PassError

MODE_ATTR = "kiln.mode"
_SOURCES = ("top.weight", "top.constant", "top.none", "func.return")


@dataclass(frozen=True)
class ApplyQTable(Pass):
    name = "apply-qtable"
    description = "give every layer its quantization mode from a qtable (default INT8)"
    table: str = ""
    target: str = "int8-sym"
    default: str = "INT8"

    def run(self, module: Module) -> None:
        from ..calibration.qtable import normalize_mode, read_qtable
        from ..compiler.target import load_target

        target = load_target(self.target)
        default = normalize_mode(self.default)
        if default is None or default not in target.modes:
            raise PassError(f"default mode '{self.default}' is not allowed by target "
                            f"{target.name} (modes: {', '.join(target.modes)})")
        locs = {op.loc for op in module.walk() if op.loc}
        qtable = read_qtable(self.table, known_names=locs) if self.table else None
        shape = set(qtable.shape_layers) if qtable else set()
        for op in module.walk():
            if op.name in _SOURCES:
                continue
            row = qtable.mode_of(op.loc) if qtable and op.loc else None
            if op.loc in shape or op.attributes.get("kiln.exact"):
                mode = "F32"
            elif row is not None:
                mode = row
                if mode not in target.modes:
                    raise PassError(f"{qtable.where(op.loc)}: layer '{op.loc}' asks for {mode}, "
                                    f"which target {target.name} does not allow (modes: "
                                    f"{', '.join(target.modes)})")
            else:
                mode = default
            op.attributes[MODE_ATTR] = mode
