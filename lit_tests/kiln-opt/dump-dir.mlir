// --dump-dir writes the input and one numbered file per pass.
// RUN: rm -rf %t.dir
// RUN: %kiln-opt %inputs/two_relus.mlir -p "cse,dce,canonicalize" --dump-dir %t.dir -o %t.out.mlir
// RUN: ls %t.dir | filecheck %s --check-prefix=FILES
// RUN: filecheck %s --check-prefix=CSE < %t.dir/01-cse.mlir
// RUN: diff %t.dir/03-canonicalize.mlir %t.out.mlir
// Each dumped stage can be run again by hand: replaying dce on the cse dump gives stage 2.
// RUN: %kiln-opt %t.dir/01-cse.mlir -p dce -o %t.replay.mlir
// RUN: diff %t.replay.mlir %t.dir/02-dce.mlir

// FILES: 00-input.mlir
// FILES-NEXT: 01-cse.mlir
// FILES-NEXT: 02-dce.mlir
// FILES-NEXT: 03-canonicalize.mlir

// CSE: top.add %0, %0
