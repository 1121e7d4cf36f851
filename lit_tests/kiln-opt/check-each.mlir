// --check-each runs the interpreter before and after every pass: float rewrites must keep the
// outputs (rtol 1e-5); a pass that changes them is named with the output and the worst value.
// RUN: %kiln-opt %inputs/two_relus.mlir -p "cse,canonicalize" --check-each -o %t.mlir 2>&1 | filecheck %s --check-prefix=OK
// RUN: not %kiln-opt %inputs/two_relus.mlir -p "cse,test-perturb,dce" --check-each 2>&1 | filecheck %s --check-prefix=BAD
// RUN: %python -c "import numpy as np; np.savez('%t.npz', x=np.array([-1, 2, -3, 4], np.float32))"
// RUN: not %kiln-opt %inputs/two_relus.mlir -p "test-perturb" --check-each=%t.npz 2>&1 | filecheck %s --check-prefix=NPZ
// RUN: %python -c "import numpy as np; np.savez('%t.bad.npz', y=np.zeros(4, np.float32))"
// RUN: not %kiln-opt %inputs/two_relus.mlir -p "cse" --check-each=%t.bad.npz 2>&1 | filecheck %s --check-prefix=BADNPZ

// OK: check-each: cse: 'c' max abs diff 0
// OK: check-each: canonicalize: 'c' max abs diff 0

// BAD: kiln-opt: error: pass 'test-perturb' changed the numbers (passes run before it: cse):
// BAD-NEXT: output 'c': 4 of 4 values moved more than rtol 1e-05; worst at

// The relu of -1 was 0; its sigmoid is 0.27: two relus add to 0, two sigmoids to 0.54.
// NPZ: output 'c': 4 of 4 values moved more than rtol 1e-05; worst at (3,): 8 -> 1.96403
// BADNPZ: kiln-opt: error: missing input(s) x; unknown input(s) y; the model's inputs are: x
