// Weights live in the npz named by kiln.weights (relative to the module file); the verifier
// checks each top.weight against it, and -o elsewhere keeps the reference pointing at it.
// RUN: rm -rf %t && mkdir -p %t/in %t/out
// RUN: %python -c "import numpy as np; np.savez('%t/in/w.npz', **{'conv.w': np.ones((4, 3), np.float32)})"
// RUN: %python -c "import sys; open('%t/in/good.mlir', 'w').write(open(sys.argv[1]).read().replace('SHAPE', '4x3'))" %inputs/weights.mlir.in
// RUN: %python -c "import sys; open('%t/in/bad.mlir', 'w').write(open(sys.argv[1]).read().replace('SHAPE', '3x4'))" %inputs/weights.mlir.in
// RUN: %kiln-opt %t/in/good.mlir -p cse -o %t/out/good.mlir
// RUN: filecheck %s < %t/out/good.mlir
// RUN: %kiln-opt %t/out/good.mlir -p cse
// RUN: not %kiln-opt %t/in/bad.mlir 2>&1 | filecheck %s --check-prefix=BAD

// CHECK: module @w attributes {kiln.weights = "../in/w.npz"}
// CHECK: top.weight @conv.w : tensor<4x3xf32> loc("conv.w")
// BAD: 'top.weight' op loc("conv.w") (line 3): weight 'conv.w' has shape (4, 3) in {{.+}}w.npz, but the op says (3, 4)
