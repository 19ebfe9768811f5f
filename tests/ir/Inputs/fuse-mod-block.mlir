// fuse-epilogues refuses a graph that still has a mod.block (it requires lower-mod first).
graph @unlowered mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : i32[8]
  %1 = input {name = "pos"} : i32[8]
  %2 = weight {name = "model.embed_tokens.weight", offset = 0} : f32[16,4]
  %3 = weight {name = "model.layers.0.router.weight", offset = 256} : f32[1,4]
  %4 = embed %0, %2 : ?
  %5 = mod.block %4, %1, %3 {layer = 0, capacity = 0.25, k = 2, gate = "raw", predictor = "router", router_bias = 0} : ? {
    %6 = block.arg {index = 0} : ?
    %7 = yield %6 : ?
  }
  %8 = output %5 {name = "logits"} : ?
}
