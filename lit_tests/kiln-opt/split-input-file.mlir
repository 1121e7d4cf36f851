// Each chunk is its own module; outputs are joined with the marker; errors keep file lines.
// RUN: %kiln-opt %s --split-input-file -p cse | filecheck %s
// RUN: not %kiln-opt %s 2>&1 | filecheck %s --check-prefix=WHOLE

// CHECK: func.func @first
// CHECK: // -----
// CHECK: func.func @second
// WHOLE: split-input-file.mlir:[[# @LINE + 7]]:1: error: a file holds one module, or functions without a module, not both
func.func @first() {
  return
}

// -----

module @m {
  func.func @second() {
    return
  }
}
