// --print-ir-after-all / -before / -after write the module to stderr with a header per pass.
// RUN: %kiln-opt %inputs/two_relus.mlir -p cse,dce --print-ir-after-all -o %t.mlir 2>&1 | filecheck %s --check-prefix=ALL
// RUN: %kiln-opt %inputs/two_relus.mlir -p cse,dce --print-ir-before=dce --print-ir-after=cse -o %t.mlir 2>&1 | filecheck %s --check-prefix=SOME
// RUN: not %kiln-opt %inputs/two_relus.mlir -p "cse,test-fail" --print-ir-after-failure 2>&1 | filecheck %s --check-prefix=FAIL

// ALL: // -----// IR Dump After CommonSubexpressionElimination (cse) //----- //
// ALL-NEXT: module @two
// ALL: top.relu %x {{.+}} loc("a")
// ALL-NOT: loc("b")
// ALL: // -----// IR Dump After DeadCodeElimination (dce) //----- //

// SOME: // -----// IR Dump After CommonSubexpressionElimination (cse) //----- //
// SOME: // -----// IR Dump Before DeadCodeElimination (dce) //----- //
// SOME-NOT: IR Dump

// FAIL-NOT: IR Dump After CommonSubexpressionElimination
// FAIL: // -----// IR Dump After TestFail Failed (test-fail) //----- //
// FAIL: kiln-opt: error: pass 'test-fail' failed (passes run before it: cse):
