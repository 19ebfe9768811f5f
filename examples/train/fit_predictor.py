#!/usr/bin/env python3
"""Fit the paper's auxiliary predictor (DESIGN section 4, predictor: mlp) to a MoD model after
its training.  The model stays frozen: along its top-k forward over training text, each routed
layer's predictor p = fc2(silu(fc1 h)) learns by BCE whether top-k routing takes the token from
the layer's input h, as train_mod.py --predictor mlp trains it (there with the gradient stopped
at h, so the same thing while the model trains).  The output is the weights file with every
tensor as it was (bit for bit) plus the predictors' (BF16), for a spec with predictor: mlp.

Why after training: the router's own rule (r > 0) is what train_mod.py's BCE shapes, and routed
layers back to back lose much more to it in sessions than every-other ones (the drr runs of
bench/results/2026-12-06-h100-pair-deeper/).  Fitting a predictor to a frozen model leaves its
top-k quality as trained, costs a few hundred forward passes (well under 1% of the training
FLOPs), and compares the two causal rules on one model.

  python3 examples/train/fit_predictor.py --weights W.safetensors --layers 12 --routed 1,2,4,5,7,8,10,11 \\
      --capacity 0.25 --text TRAIN.bin --out W_p.safetensors [--steps 400 --batch 16 --hidden 64]

TRAIN.bin: training text (bytes), never the text the result is judged on.  Runs on the CPU or
a GPU (float32, no autocast).
"""
import argparse
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_mod as TM          # noqa: E402  the model and its safetensors writer
import reference as R           # noqa: E402  the exact BF16 loader

torch.set_default_dtype(torch.float32)   # reference.py works in float64


def build(args):
    """The frozen model (train_mod's, predictor: mlp) with the weights file's tensors."""
    cfg = argparse.Namespace(d_model=args.d_model, layers=args.layers, heads=args.heads, kv_heads=args.kv_heads,
                             d_ff=args.d_ff, routed=args.routed, routing="every_other", capacity=args.capacity,
                             predictor="mlp", predictor_hidden=args.hidden)
    TM.configure(cfg)
    torch.manual_seed(args.seed)
    model = TM.MoDModel()
    w = R.load_safetensors_f64(args.weights)
    names = TM.hf_state_dict(model)
    missing = [n for n in names if n not in w and ".predictor." not in n]
    if missing:
        sys.exit(f"fit_predictor.py: {args.weights} lacks {missing[0]} (and {len(missing) - 1} more): "
                 "do --layers/--routed match the model?")
    with torch.no_grad():
        for n, p in names.items():
            if n in w:
                if tuple(w[n].shape) != tuple(p.shape):
                    sys.exit(f"fit_predictor.py: {n} is {list(w[n].shape)} in the file, {list(p.shape)} in the model")
                p.copy_(w[n].float())
    for n, p in model.named_parameters():
        p.requires_grad_(".predictor." in n)
    return model, w


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", required=True)
    ap.add_argument("--text", required=True, help="training text, bytes")
    ap.add_argument("--out", required=True)
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--layers", type=int, required=True)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--d-ff", type=int, default=640)
    ap.add_argument("--routed", required=True, help="comma-separated routed layers")
    ap.add_argument("--capacity", type=float, required=True)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    model, w = build(args)
    model.to(dev).eval()
    text = torch.frombuffer(bytearray(open(args.text, "rb").read()), dtype=torch.uint8).to(dev)
    T = args.seq
    if text.numel() < T + 2:
        sys.exit(f"fit_predictor.py: {args.text} holds {text.numel()} bytes, fewer than one window of {T}")
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=args.lr)
    g = torch.Generator(device=dev).manual_seed(args.seed)
    t0, acc_ema = time.time(), None
    for step in range(args.steps):
        lr = args.lr * 0.5 * (1 + math.cos(math.pi * step / args.steps))
        for q in opt.param_groups:
            q["lr"] = lr
        off = torch.randint(0, text.numel() - T - 1, (args.batch,), device=dev, generator=g)
        x = text[off[:, None] + torch.arange(T, device=dev)].long()
        got = []
        with torch.no_grad():
            model(x, "topk", collect=got)
        loss, acc = 0.0, 0.0
        for layer, h, target in got:
            p = layer.predictor(h)
            loss = loss + F.binary_cross_entropy_with_logits(p, target)
            acc += ((p > 0).float() == target).float().mean().item() / len(got)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        acc_ema = acc if acc_ema is None else 0.9 * acc_ema + 0.1 * acc
        if (step + 1) % 50 == 0 or step + 1 == args.steps:
            print(f"step {step + 1:5d}  t {time.time() - t0:6.1f}s  bce {loss.item() / len(got):.4f}  "
                  f"agreement (p > 0 == in top-k) {acc_ema:.4f}", flush=True)
    state = dict(w)
    for n, p in TM.hf_state_dict(model).items():
        if ".predictor." in n:
            state[n] = p.detach()
    TM.save_safetensors_bf16(state, args.out)
    print(f"saved {args.out} ({os.path.getsize(args.out)} bytes, {len(state) - len(w)} predictor tensors added)")


if __name__ == "__main__":
    main()
