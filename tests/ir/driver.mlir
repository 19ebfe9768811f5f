// driver.mlir: modc-opt itself: split input, pieces without a graph, stdin, options, and
// files in which some pieces fail.
// RUN: modc-opt %s | FileCheck %s
// RUN: modc-opt - < %s | FileCheck %s
// RUN: modc-opt --help | FileCheck %s --check-prefix=HELP
// RUN: not modc-opt --bogus 2>&1 | FileCheck %s --check-prefix=BADOPT
// RUN: not modc-opt %s %s 2>&1 | FileCheck %s --check-prefix=TWOFILES
// RUN: not modc-opt %t.missing 2>&1 | FileCheck %s --check-prefix=NOFILE
// RUN: not modc-opt %s --pass 2>&1 | FileCheck %s --check-prefix=NOPASSNAME
// RUN: not modc-opt %s --pass no-such-pass 2>&1 >/dev/null | FileCheck %s --check-prefix=NOPASS
// RUN: not modc-opt %S/Inputs/mixed.mlir > %t.out 2> %t.err
// RUN: FileCheck %s --check-prefix=MIXED < %t.out
// RUN: FileCheck %s --check-prefix=MIXED-ERR < %t.err

// HELP: usage: modc-opt [FILE|-] [--pass NAME ...] [--cpu NAME] [--target TRIPLE] [--cores N]
// BADOPT: modc-opt: error: unknown option '--bogus'
// BADOPT-NEXT: usage: modc-opt
// TWOFILES: modc-opt: error: more than one input file
// NOFILE: modc-opt: error: cannot open {{.*}}.missing: No such file or directory
// NOPASSNAME: modc-opt: error: --pass needs a pass name
// NOPASS: driver.mlir: error: in graph @first: pass 'no-such-pass': {{.+}}
// NOPASS-NEXT: driver.mlir: error: in graph @second: pass 'no-such-pass': {{.+}}

// MIXED: graph @good1
// MIXED-NEXT: %0 = input {name = "tokens"} : i32[4]
// MIXED-NEXT: }
// MIXED-NEXT: // -----
// MIXED-NEXT: graph @good2
// MIXED-NOT: graph
// MIXED-ERR: mixed.mlir:7:8: error: unknown op 'bogus'
// MIXED-ERR-NEXT: mixed.mlir: error: in graph @bad_verify: verify: %0 (weight): missing attribute 'offset'
// MIXED-ERR-NOT: error

// CHECK: graph @first mode = forward syms = [] arena = 0 {
// CHECK-NEXT: %0 = input {name = "tokens"} : i32[16]
// CHECK-NEXT: }
// CHECK-NEXT: // -----
// CHECK-NEXT: graph @second mode = session syms = [s0 <= 8] arena = 0 {
// CHECK-NEXT: }
// CHECK-NOT: graph
graph @first mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : i32[16]
}

// -----

// A piece with only comments holds no graph and is skipped.

// -----
graph @second mode = session syms = [s0 <= 8] arena = 0 {
}
// -----
