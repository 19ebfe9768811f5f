#!/usr/bin/env python3
"""Independent float64 reference of DESIGN.md section 4 for examples/trained/bytes_mod.

It shares no code with train_mod.py: it parses the safetensors file itself, widens the
stored BF16 weights exactly to float64 and runs the model on the CPU in torch.float64,
one sequence at a time, written to follow the text of section 4 line by line.

  top-k forward : k = min(T, max(1, ceil(c*T - 1e-9))); S = the k positions with the largest
                  r, ties to the smaller position (a stable sort on (-r, t)), S ascending.
  causal        : token by token (decode with per-layer KV caches); in a routed layer token t
                  takes the block iff r[t] > 0 and then attends to the earlier tokens that took
                  it and to itself.

Usage:
  python3 examples/train/reference.py --weights W.safetensors --corpus-val VAL.bin --out DIR
      [--prompt-candidates 64] [--sample-prompts FILE] [--sample-len 192]
  (or, to recompute the saved references without the corpus:
   --tokens examples/trained/ref_tokens.bin --b2-tokens examples/trained/ref_b2t64_tokens.bin)
Writes DIR/ref_tokens.bin, ref_forward_logits.bin, ref_causal_logits.bin, ref_causal_taken.bin,
ref_b2t64_tokens.bin, ref_b2t64_forward_logits.bin, ref_b2t64_taken.bin, reference_report.json
(and samples.json with greedy generations).
"""
import argparse
import json
import math
import struct
import sys

import numpy as np
import torch

torch.set_default_dtype(torch.float64)

CFG = dict(vocab=256, d=256, n_layers=6, n_heads=4, n_kv_heads=2, d_ff=640,
           routed=[1, 3, 5], capacity=0.125, theta=10000.0, eps=1e-5)
HD = CFG["d"] // CFG["n_heads"]


# ----------------------------------------------------------------------------- weights

def load_safetensors_f64(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = data[base + a: base + b]
        if info["dtype"] == "BF16":
            u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16   # exact widening
            arr = u.view(np.float32).astype(np.float64)
        elif info["dtype"] == "F32":
            arr = np.frombuffer(raw, dtype="<f4").astype(np.float64)
        else:
            raise SystemExit(f"unsupported dtype {info['dtype']} for {name}")
        out[name] = torch.from_numpy(arr.reshape(info["shape"]).copy())
    return out


# ----------------------------------------------------------------------------- model pieces

def rmsnorm(v, w):
    return v / torch.sqrt((v * v).mean(-1, keepdim=True) + CFG["eps"]) * w


def rope(e, pos):
    """e [n, heads, HD], pos [n] (original positions) -> HF rotate-half RoPE."""
    i = torch.arange(HD // 2, dtype=torch.float64)
    inv_freq = CFG["theta"] ** (-2.0 * i / HD)
    ang = pos.to(torch.float64)[:, None] * inv_freq[None, :]          # [n, HD/2]
    cos = torch.cat([ang.cos(), ang.cos()], -1)[:, None, :]
    sin = torch.cat([ang.sin(), ang.sin()], -1)[:, None, :]
    a, b = e[..., : HD // 2], e[..., HD // 2:]
    return e * cos + torch.cat([-b, a], -1) * sin


def qkv(W, l, u, pos):
    p = f"model.layers.{l}.self_attn."
    n = u.shape[0]
    q = (u @ W[p + "q_proj.weight"].T).view(n, CFG["n_heads"], HD)
    k = (u @ W[p + "k_proj.weight"].T).view(n, CFG["n_kv_heads"], HD)
    v = (u @ W[p + "v_proj.weight"].T).view(n, CFG["n_kv_heads"], HD)
    return rope(q, pos), rope(k, pos), v


def attend(W, l, q, qpos, k, v, kpos):
    """Queries q [nq, H, HD] at qpos attend to keys/values at kpos with kpos <= qpos."""
    group = CFG["n_heads"] // CFG["n_kv_heads"]
    heads = []
    for j in range(CFG["n_heads"]):
        kj, vj = k[:, j // group], v[:, j // group]
        s = (q[:, j] @ kj.T) / math.sqrt(HD)                           # [nq, nk]
        allowed = kpos[None, :] <= qpos[:, None]
        s = s.masked_fill(~allowed, float("-inf"))
        heads.append(torch.softmax(s, -1) @ vj)
    o = torch.cat(heads, -1)
    return o @ W[f"model.layers.{l}.self_attn.o_proj.weight"].T


def mlp(W, l, z):
    p = f"model.layers.{l}.mlp."
    g = z @ W[p + "gate_proj.weight"].T
    return (g * torch.sigmoid(g) * (z @ W[p + "up_proj.weight"].T)) @ W[p + "down_proj.weight"].T


def block(W, l, x, pos):
    """block(x, pos) of section 4 on a set of rows x [n, d] at positions pos [n]."""
    p = f"model.layers.{l}."
    u = rmsnorm(x, W[p + "input_layernorm.weight"])
    q, k, v = qkv(W, l, u, pos)
    a = x + attend(W, l, q, pos, k, v, pos)
    z = rmsnorm(a, W[p + "post_attention_layernorm.weight"])
    return a + mlp(W, l, z)


def lm_logits(W, h):
    return rmsnorm(h, W["model.norm.weight"]) @ W["lm_head.weight"].T


def router(W, l, h):
    return h @ W[f"model.layers.{l}.router.weight"][0]


# ----------------------------------------------------------------------------- top-k forward

def forward_topk(W, tokens):
    """One sequence; returns logits [T, V], chosen sets {l: S}, margins {l: gap at k-th place}."""
    T = len(tokens)
    h = W["model.embed_tokens.weight"][torch.tensor(tokens)].clone()
    pos = torch.arange(T)
    chosen, margins = {}, {}
    for l in range(CFG["n_layers"]):
        if l not in CFG["routed"]:
            h = block(W, l, h, pos)
            continue
        k = min(T, max(1, math.ceil(CFG["capacity"] * T - 1e-9)))
        r = router(W, l, h)
        rl = r.tolist()
        order = sorted(range(T), key=lambda t: (-rl[t], t))            # ties -> smaller position
        S = sorted(order[:k])
        margins[l] = (rl[order[k - 1]] - rl[order[k]]) if k < T else float("inf")
        chosen[l] = S
        St = torch.tensor(S)
        x = h[St]
        y = block(W, l, x, St)
        h = h.clone()
        h[St] = x + r[St][:, None] * (y - x)
    return lm_logits(W, h), chosen, margins


# ----------------------------------------------------------------------------- causal (decode)

def causal_decode(W, tokens, record=True):
    """Token-by-token decode with per-layer KV caches. Returns logits [T, V] (every step),
    taken {l: [T] bools}, min |r| per routed layer."""
    L = CFG["n_layers"]
    cache = {l: {"k": [], "v": [], "pos": []} for l in range(L)}
    taken = {l: [] for l in CFG["routed"]}
    rmin = {l: float("inf") for l in CFG["routed"]}
    out = []
    for t, tok in enumerate(tokens):
        h = W["model.embed_tokens.weight"][tok][None, :].clone()        # [1, d]
        pos = torch.tensor([t])
        for l in range(L):
            p = f"model.layers.{l}."
            if l in CFG["routed"]:
                r = float(router(W, l, h)[0])
                rmin[l] = min(rmin[l], abs(r))
                if not r > 0:
                    taken[l].append(0)
                    continue                                            # passes unchanged, no cache entry
                taken[l].append(1)
            u = rmsnorm(h, W[p + "input_layernorm.weight"])
            q, k, v = qkv(W, l, u, pos)
            c = cache[l]
            c["k"].append(k); c["v"].append(v); c["pos"].append(t)
            K, V = torch.cat(c["k"]), torch.cat(c["v"])
            a = h + attend(W, l, q, pos, K, V, torch.tensor(c["pos"]))
            z = rmsnorm(a, W[p + "post_attention_layernorm.weight"])
            y = a + mlp(W, l, z)
            h = h + r * (y - h) if l in CFG["routed"] else y
        out.append(lm_logits(W, h)[0])
    return torch.stack(out), taken, rmin


def causal_full(W, tokens):
    """The same causal rule computed over the whole sequence at once (prefill-style):
    used only to check the decode loop and to screen prompt candidates quickly."""
    T = len(tokens)
    h = W["model.embed_tokens.weight"][torch.tensor(tokens)].clone()
    pos = torch.arange(T)
    taken, rmin = {}, {}
    for l in range(CFG["n_layers"]):
        if l not in CFG["routed"]:
            h = block(W, l, h, pos)
            continue
        r = router(W, l, h)
        m = r > 0
        taken[l] = m.to(torch.uint8).tolist()
        rmin[l] = float(r.abs().min())
        St = torch.nonzero(m).flatten()
        if len(St):
            x = h[St]
            y = block(W, l, x, St)
            h = h.clone()
            h[St] = x + r[St][:, None] * (y - x)
    return lm_logits(W, h), taken, rmin


def greedy(W, prompt, n_new):
    toks = list(prompt)
    # simple (quadratic) greedy generation with the decode loop; fine for a few hundred bytes
    L = CFG["n_layers"]
    cache = {l: {"k": [], "v": [], "pos": []} for l in range(L)}
    frac = {l: 0 for l in CFG["routed"]}

    def step(tok, t):
        h = W["model.embed_tokens.weight"][tok][None, :].clone()
        pos = torch.tensor([t])
        for l in range(L):
            p = f"model.layers.{l}."
            r = None
            if l in CFG["routed"]:
                r = float(router(W, l, h)[0])
                if not r > 0:
                    continue
                frac[l] += 1
            u = rmsnorm(h, W[p + "input_layernorm.weight"])
            q, k, v = qkv(W, l, u, pos)
            c = cache[l]
            c["k"].append(k); c["v"].append(v); c["pos"].append(t)
            a = h + attend(W, l, q, pos, torch.cat(c["k"]), torch.cat(c["v"]), torch.tensor(c["pos"]))
            y = a + mlp(W, l, rmsnorm(a, W[p + "post_attention_layernorm.weight"]))
            h = h + r * (y - h) if r is not None else y
        return lm_logits(W, h)[0]

    logits = None
    for t, tok in enumerate(toks):
        logits = step(tok, t)
    for _ in range(n_new):
        nxt = int(torch.argmax(logits))
        toks.append(nxt)
        logits = step(nxt, len(toks) - 1)
    n = len(toks)
    return bytes(toks), {l: frac[l] / n for l in frac}


# ----------------------------------------------------------------------------- main

def write(path, arr, dtype):
    np.ascontiguousarray(np.asarray(arr), dtype=dtype).tofile(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--corpus-val", help="held-out corpus bytes to take prompts from")
    ap.add_argument("--tokens", help="use this 256-token prompt (int32 LE) instead of choosing one")
    ap.add_argument("--b2-tokens", help="use these 2x64 tokens (int32 LE) instead of choosing them")
    ap.add_argument("--out", required=True)
    ap.add_argument("--prompt-candidates", type=int, default=64)
    ap.add_argument("--sample-prompts", default=None, help="JSON list of prompt strings for greedy samples")
    ap.add_argument("--sample-len", type=int, default=192)
    args = ap.parse_args()
    W = load_safetensors_f64(args.weights)
    val = open(args.corpus_val, "rb").read() if args.corpus_val else b""
    if not val and not (args.tokens and args.b2_tokens):
        raise SystemExit("need --corpus-val, or both --tokens and --b2-tokens")
    rep = {}

    # ---- choose the 256-byte prompt: among candidate windows of the held-out corpus,
    #      the one whose smallest routing margin (top-k gap and causal |r|) is largest.
    T = 256
    stride = max(T, (len(val) - T) // args.prompt_candidates)
    best = None
    if args.tokens:
        best = (float("nan"), -1, np.fromfile(args.tokens, "<i4").tolist())
    for off in ([] if args.tokens else range(0, len(val) - T, stride)[: args.prompt_candidates]):
        toks = list(val[off: off + T])
        _, _, mt = forward_topk(W, toks)
        _, _, mc = causal_full(W, toks)
        score = min(min(mt.values()), min(mc.values()))
        if best is None or score > best[0]:
            best = (score, off, toks)
    score, off, toks = best
    rep["prompt_offset_in_val"] = off
    rep["prompt_text"] = bytes(toks).decode("latin-1")
    print(f"prompt: val offset {off}, min margin {score:.6g}")
    print(repr(bytes(toks)))

    # ---- (a) top-k forward
    lf, chosen, mt = forward_topk(W, toks)
    # ---- (b, c) causal, token by token, and a whole-sequence check of it
    lc, taken, mc = causal_decode(W, toks)
    lc2, taken2, _ = causal_full(W, toks)
    diff = float((lc - lc2).abs().max())
    assert all(taken[l] == taken2[l] for l in CFG["routed"]), "decode vs full routing mismatch"
    print(f"causal decode vs whole-sequence causal: max |logit diff| = {diff:.3g}")
    rep["causal_decode_vs_full_maxdiff"] = diff
    rep["topk_margin_per_layer"] = {str(l): mt[l] for l in mt}
    rep["topk_margin_min"] = min(mt.values())
    rep["causal_min_abs_r_per_layer"] = {str(l): mc[l] for l in mc}
    rep["causal_min_abs_r"] = min(mc.values())
    rep["topk_chosen"] = {str(l): chosen[l] for l in chosen}
    rep["causal_taken_count"] = {str(l): int(sum(taken[l])) for l in taken}
    tgt = torch.tensor(toks[1:])
    for name, lg in (("topk", lf), ("causal", lc)):
        ce = float(torch.nn.functional.cross_entropy(lg[:-1], tgt))
        rep[f"prompt_ce_{name}"] = ce
    print("top-k margin per routed layer:", rep["topk_margin_per_layer"])
    print("causal min |r| per routed layer:", rep["causal_min_abs_r_per_layer"])
    print("causal taken counts:", rep["causal_taken_count"])
    print(f"next-byte CE on the prompt: top-k {rep['prompt_ce_topk']:.4f}, causal {rep['prompt_ce_causal']:.4f}")

    o = args.out
    write(f"{o}/ref_tokens.bin", toks, "<i4")
    write(f"{o}/ref_forward_logits.bin", lf.numpy(), "<f4")
    write(f"{o}/ref_causal_logits.bin", lc.numpy(), "<f4")
    write(f"{o}/ref_causal_taken.bin", [taken[l] for l in CFG["routed"]], "u1")

    # ---- bonus: the other compiled shape, (2, 64): two 64-byte rows, top-k forward per row
    T2 = 64
    rows, lgs, tk, m2 = [], [], [], []
    cands = []
    if args.b2_tokens:
        cands = [(0.0, -1, r) for r in np.fromfile(args.b2_tokens, "<i4").reshape(2, T2).tolist()]
    for off2 in ([] if args.b2_tokens else range(0, len(val) - T2, max(T2, (len(val) - T2) // 256))[:256]):
        t2 = list(val[off2: off2 + T2])
        _, _, mt2 = forward_topk(W, t2)
        cands.append((min(mt2.values()), off2, t2))
    cands.sort(key=lambda c: -c[0])       # stable: given rows keep their order
    for m, off2, t2 in cands[:2]:
        lg2, ch2, mt2 = forward_topk(W, t2)
        rows.append(t2); lgs.append(lg2.numpy()); m2.append(min(mt2.values()))
        tk.append([[1 if t in set(ch2[l]) else 0 for t in range(T2)] for l in CFG["routed"]])
    write(f"{o}/ref_b2t64_tokens.bin", rows, "<i4")
    write(f"{o}/ref_b2t64_forward_logits.bin", np.stack(lgs), "<f4")
    write(f"{o}/ref_b2t64_taken.bin", tk, "u1")
    rep["b2t64_topk_margin_min"] = min(m2)
    rep["b2t64_text"] = [bytes(r).decode("latin-1") for r in rows]
    print(f"(2,64) rows: top-k min margin {min(m2):.6g}")

    # ---- greedy samples with causal routing
    if args.sample_prompts:
        samples = []
        for ptxt in json.load(open(args.sample_prompts)):
            out, frac = greedy(W, ptxt.encode(), args.sample_len)
            samples.append({"prompt": ptxt, "text": out.decode("utf-8", "replace"),
                            "fraction_taken": {str(l): round(v, 4) for l, v in frac.items()}})
            print("=" * 60)
            print(out.decode("utf-8", "replace"))
        json.dump(samples, open(f"{o}/samples.json", "w"), indent=1)

    json.dump(rep, open(f"{o}/reference_report.json", "w"), indent=1)


if __name__ == "__main__":
    main()
