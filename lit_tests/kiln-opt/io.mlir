// Input from standard input, output atomically to a file, a missing input file, no input.
// RUN: cat %inputs/two_relus.mlir | %kiln-opt - -p cse | filecheck %s
// RUN: %kiln-opt %inputs/two_relus.mlir -p cse -o %t.sub/out.mlir
// RUN: filecheck %s < %t.sub/out.mlir
// RUN: not %kiln-opt %t.does-not-exist.mlir 2>&1 | filecheck %s --check-prefix=MISSING
// RUN: not %kiln-opt 2>&1 | filecheck %s --check-prefix=NOINPUT
// RUN: %kiln-opt --list-passes | filecheck %s --check-prefix=LIST

// CHECK: module @two
// CHECK: top.add %0, %0

// MISSING: kiln-opt: error: cannot read {{.+}}does-not-exist.mlir
// NOINPUT: kiln-opt: error: no input file
// LIST: canonicalize {{ +}}simplify ops with their canonicalization patterns, CSE and DCE
// LIST: cse {{ +}}merge identical pure ops
