// RUN: not %kiln-opt %s -p "cse,test-fail{message=\"no luck here\"}" 2>&1 | filecheck %s --check-prefix=FAIL
// RUN: not %kiln-opt %s -p "dce,test-break-ir" 2>&1 | filecheck %s --check-prefix=BREAK

// FAIL: kiln-opt: error: pass 'test-fail' failed (passes run before it: cse):
// FAIL-NEXT: no luck here

// BREAK: kiln-opt: error: verifier failed after pass 'test-break-ir' (passes run before it: dce):
// BREAK-NEXT: function @main must end with a 'return'
// BREAK-NEXT: 'func.return' op (line [[# @LINE + 3]]): is a terminator but is not the last op of its block
func.func @main(%a: tensor<2xf32>) -> tensor<2xf32> {
  %0 = top.relu %a : (tensor<2xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}
