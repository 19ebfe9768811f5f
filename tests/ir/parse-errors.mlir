// parse-errors.mlir: the parser's diagnostics, "FILE:LINE:COL: error: message", one case
// per piece; modc-opt reports each piece's error and goes on with the next.
// RUN: not modc-opt %s 2>&1 >/dev/null | FileCheck %s --implicit-check-not=error:

// CHECK: parse-errors.mlir:[[@LINE+2]]:8: error: unknown op 'matmull'
graph @unknown_op mode = forward syms = [] arena = 0 {
  %0 = matmull : ?
}

// -----

// CHECK: parse-errors.mlir:[[@LINE+3]]:13: error: unknown value %x
graph @unknown_value mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : ?
  %1 = silu %x : ?
}

// -----

// A use before the definition is an unknown value too.
// CHECK: parse-errors.mlir:[[@LINE+2]]:13: error: unknown value %b
graph @forward_ref mode = forward syms = [] arena = 0 {
  %a = silu %b : ?
  %b = input {name = "tokens"} : ?
}

// -----

// CHECK: parse-errors.mlir:[[@LINE+3]]:8: error: 'matmul' takes 2 operands, got 3
graph @operand_count mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : ?
  %1 = matmul %0, %0, %0 : ?
}

// -----

// CHECK: parse-errors.mlir:[[@LINE+3]]:3: error: duplicate value name %h
graph @duplicate mode = forward syms = [] arena = 0 {
  %h = input {name = "tokens"} : ?
  %h = input {name = "pos"} : ?
}

// -----

// CHECK: parse-errors.mlir:[[@LINE+2]]:8: error: block.arg outside a mod.block region
graph @stray_arg mode = forward syms = [] arena = 0 {
  %0 = block.arg {index = 0} : f32[2,64]
}

// -----

// CHECK: parse-errors.mlir:[[@LINE+2]]:34: error: unknown dtype 'f64'
graph @bad_dtype mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : f64[16]
}

// -----

// CHECK: parse-errors.mlir:[[@LINE+2]]:41: error: expected a dimension (an integer or a symbol sN)
graph @bad_dim mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : i32[16,?]
}

// -----

// CHECK: parse-errors.mlir:[[@LINE+2]]:38: error: unknown symbol s1 (the graph declares 1)
graph @bad_sym mode = session syms = [s0 <= 1024] arena = 0 {
  %0 = input {name = "tokens"} : i32[s1]
}

// -----

// CHECK: parse-errors.mlir:[[@LINE+2]]:46: error: more than 4 dimensions
graph @rank5 mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : i32[1,2,3,4,5]
}

// -----

// CHECK: parse-errors.mlir:[[@LINE+2]]:20: error: expected '=' after the attribute name
graph @attr_no_eq mode = forward syms = [] arena = 0 {
  %0 = input {name "tokens"} : ?
}

// -----

// CHECK: parse-errors.mlir:[[@LINE+2]]:22: error: expected an attribute value (integer, float or string)
graph @attr_word mode = forward syms = [] arena = 0 {
  %0 = input {name = tokens} : ?
}

// -----

// CHECK: parse-errors.mlir:[[@LINE+2]]:26: error: unknown escape in string (use \" \\ \n \t or \xHH)
graph @bad_escape mode = forward syms = [] arena = 0 {
  %0 = input {name = "tok\ens"} : ?
}

// -----

// CHECK: parse-errors.mlir:[[@LINE+2]]:22: error: unterminated string
graph @open_string mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens} : ?
}

// -----

// CHECK: parse-errors.mlir:[[@LINE+2]]:21: error: malformed number
graph @bad_float mode = forward syms = [] arena = 0 {
  %0 = input {eps = 1e-5f} : ?
}

// -----

// CHECK: parse-errors.mlir:[[@LINE+2]]:42: error: unknown storage '@heap'
graph @bad_storage mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : i32[16] @heap+0
}

// -----

// CHECK: parse-errors.mlir:[[@LINE+2]]:42: error: only mod.block has a region
graph @not_a_block mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : i32[16] {
  }
}

// -----

// CHECK: parse-errors.mlir:[[@LINE+4]]:1: error: expected '{' to open the mod.block's region
graph @block_without_region mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : ?
  %1 = mod.block %0, %0, %0 : ?
}

// -----

// The piece ends at the next separator line, which is where the '}' is missing.
// CHECK: parse-errors.mlir:[[@LINE+7]]:1: error: unterminated region: expected '}' to close the region of %1 (mod.block) opened at line [[@LINE+3]]
graph @unterminated mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : ?
  %1 = mod.block %0, %0, %0 : ? {
    %2 = block.arg {index = 0} : ?
    %3 = yield %2 : ?

// -----

// CHECK: parse-errors.mlir:[[@LINE+4]]:1: error: unexpected text after the end of the graph
graph @trailing mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : ?
}
}

// -----

// CHECK: parse-errors.mlir:[[@LINE+1]]:24: error: unknown mode 'batch' (forward or session)
graph @bad_mode mode = batch syms = [] arena = 0 {
}

// -----

// CHECK: parse-errors.mlir:[[@LINE+1]]:41: error: symbols must be declared in order: expected s0
graph @sym_order mode = session syms = [s1 <= 4] arena = 0 {
}

// -----

// CHECK: parse-errors.mlir:[[@LINE+1]]:1: error: expected 'graph'
grpah @typo mode = forward syms = [] arena = 0 {
}

// -----

// Schedule records (ir/sched.h): a known kind, every field of it once, integers only.
// CHECK: parse-errors.mlir:[[@LINE+3]]:36: error: unknown schedule kind '#matmull' (kinds: matmul, attn, ew)
graph @sched_kind mode = forward syms = [] arena = 0 {
  %0 = weight {name = "x", offset = 0} : f32[4,8]
  %1 = silu %0 : f32[4,8] @arena+0 #matmull{vw = 8}
}

// -----

// CHECK: parse-errors.mlir:[[@LINE+3]]:39: error: '#ew' has no field 'mr'
graph @sched_field mode = forward syms = [] arena = 0 {
  %0 = weight {name = "x", offset = 0} : f32[4,8]
  %1 = silu %0 : f32[4,8] #ew{vw = 8, mr = 4, par_min = 0}
}

// -----

// CHECK: parse-errors.mlir:[[@LINE+3]]:39: error: duplicate schedule field 'vw'
graph @sched_dup mode = forward syms = [] arena = 0 {
  %0 = weight {name = "x", offset = 0} : f32[4,8]
  %1 = silu %0 : f32[4,8] #ew{vw = 8, vw = 4, par_min = 0}
}

// -----

// CHECK: parse-errors.mlir:[[@LINE+3]]:37: error: '#ew' record without its field 'par_min'
graph @sched_missing mode = forward syms = [] arena = 0 {
  %0 = weight {name = "x", offset = 0} : f32[4,8]
  %1 = silu %0 : f32[4,8] #ew{vw = 8}
}

// -----

// CHECK: parse-errors.mlir:[[@LINE+3]]:36: error: schedule field 'vw' takes an integer
graph @sched_float mode = forward syms = [] arena = 0 {
  %0 = weight {name = "x", offset = 0} : f32[4,8]
  %1 = silu %0 : f32[4,8] #ew{vw = 8.5, par_min = 0}
}
