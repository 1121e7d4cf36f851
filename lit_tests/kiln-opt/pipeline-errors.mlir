// Bad pipelines: one message, exit code 2, never a traceback.
// RUN: not %kiln-opt %inputs/two_relus.mlir -p "cse,canonicalise" 2>&1 | filecheck %s --check-prefix=UNKNOWN
// RUN: not %kiln-opt %inputs/two_relus.mlir -p "canonicalize{rounds=2}" 2>&1 | filecheck %s --check-prefix=OPTION
// RUN: not %kiln-opt %inputs/two_relus.mlir -p "canonicalize{max_rounds=many}" 2>&1 | filecheck %s --check-prefix=VALUE
// RUN: not %kiln-opt %inputs/two_relus.mlir -p "cse{" 2>&1 | filecheck %s --check-prefix=BRACE
// RUN: %kiln-opt %inputs/two_relus.mlir -p "canonicalize{max_rounds=2}" -o %t.mlir

// UNKNOWN: kiln-opt: error: unknown pass 'canonicalise' (did you mean 'canonicalize'?); known passes: {{.*}}canonicalize, {{.*}}cse, dce,
// UNKNOWN-NOT: Traceback
// OPTION: kiln-opt: error: pass 'canonicalize' has no option 'rounds' (options: max_rounds)
// VALUE: kiln-opt: error: option max_rounds=many of pass 'canonicalize': invalid literal for int()
// BRACE: kiln-opt: error: unbalanced brackets or quotes in pipeline 'cse{'
