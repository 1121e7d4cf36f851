// RUN: %kiln-opt %inputs/two_relus.mlir -p "cse,canonicalize" --time-passes -o %t.mlir 2>&1 | filecheck %s

// CHECK: Pass execution timing report
// CHECK: Total: {{[0-9.]+}} s
// CHECK: {{[0-9.]+}} {{ *[0-9.]+}}%  cse
// CHECK-NEXT: {{[0-9.]+}} {{ *[0-9.]+}}%  canonicalize
