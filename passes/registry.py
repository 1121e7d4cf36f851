"""Every pass by name. Classes are imported only when a pipeline asks for them, so a tool
starts fast and no pass module can form an import cycle with another."""

from __future__ import annotations

import difflib
import importlib

from ..compiler.pass_manager import Pass, PassManager, PipelineError, build_pass, split_pipeline

# name -> "module:Class" inside kiln.passes; the module file is the name in snake_case.
PASSES: dict[str, str] = {
    "apply-qtable": "apply_qtable:ApplyQTable",
    "canonicalize": "canonicalize:Canonicalize",
    "codegen": "codegen:Codegen",
    "cse": "cse:CommonSubexpressionElimination",
    "dce": "dce:DeadCodeElimination",
    "fold-constants": "fold_constants:FoldConstants",
    "fuse-ops": "fuse_ops:FuseOps",
    "import-calibration": "import_calibration:ImportCalibration",
    "lower-to-npu": "lower_to_npu:LowerToNpu",
    "mark-shape-ops": "mark_shape_ops:MarkShapeOps",
    "test-fail": "testing:TestFail",
    "test-break-ir": "testing:TestBreakIR",
    "test-perturb": "testing:TestPerturb",
}


def pass_class(name: str) -> type[Pass]:
    target = PASSES.get(name)
    if target is None:
        close = difflib.get_close_matches(name, PASSES, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise PipelineError(f"unknown pass '{name}'{hint}; known passes: "
                            f"{', '.join(sorted(PASSES))}")
    module_name, class_name = target.split(":")
    module = importlib.import_module(f"{__package__}.{module_name}")
    cls = getattr(module, class_name)
    if cls.name != name:
        raise RuntimeError(f"registry says '{name}' but {target} is named '{cls.name}'")
    return cls


def parse_pipeline(text: str) -> list[Pass]:
    """A pipeline string, `a,b{opt=1}`, as pass instances (named pipelines expand first)."""
    from .pipelines import expand_named

    return [build_pass(pass_class(name), options)
            for name, options in split_pipeline(expand_named(text))]


def build_pass_manager(text: str, instruments=(), verify_each: bool = True) -> PassManager:
    return PassManager(parse_pipeline(text), instruments, verify_each)
