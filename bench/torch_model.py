#!/usr/bin/env python3
"""torch_model.py: the PyTorch eager peer of `modc bench`, and the router calibration.

The DESIGN section 4 forward (top-k routing, raw or sigmoid gate, router or mlp predictor)
written plainly in PyTorch, reading the same spec and safetensors weights as modc.

  torch_model.py time SPEC --dump PREFIX [--repeats R] [--warmup W] [--kv FILE] [--variants LIST]
      times the forward on the spec's first compiled shape, for each variant:
        eager         PyTorch as installed: its default thread count, torch.matmul
        eager-2t      the same with torch.set_num_threads(2)
        mkldnn-2t     the Linear layers through torch.utils.mkldnn (oneDNN), 2 threads
      and checks the peer computes what modc computes: the forward logits on the tokens
      `modc bench --dump PREFIX` wrote, and the session (causal routing) trace and the last
      logits of its prefill and decode steps.
  torch_model.py calibrate SPEC --out-spec NEW.yaml --out-weights NEW.safetensors
                 [--tokens N] [--seed S]
      a calibrated-router variant of a MoD model: router_bias: true, and each routed layer's
      bias set so that about `capacity` of the tokens of a calibration sequence (its own
      tokens, not the benchmark's) have r > 0, i.e. take the block when decoding, as a router
      trained with the BCE aux loss would.  Every other weight is copied unchanged.

Needs numpy, PyYAML and torch (Debian: python3-numpy python3-yaml python3-torch).
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import yaml

torch.set_grad_enabled(False)


# ---------------------------------------------------------------- spec and weights

def load_spec(path):
    with open(path) as f:
        s = yaml.safe_load(f)
    m, r = s["model"], s.get("routing", {})
    L = m["n_layers"]
    layers = r.get("layers", "none")
    if layers == "every_other":
        routed = [l % 2 == 1 for l in range(L)]
    elif layers == "all":
        routed = [True] * L
    elif layers == "none":
        routed = [False] * L
    else:
        routed = [l in layers for l in range(L)]
    cap = [float(r.get("capacity", 1.0)) if routed[l] else 1.0 for l in range(L)]
    for l, o in (r.get("per_layer") or {}).items():
        if "capacity" in o:
            cap[int(l)] = float(o["capacity"])
    comp = s.get("compile", {})
    return {
        "path": path, "name": s["name"], "raw": s,
        "weights": os.path.join(os.path.dirname(os.path.abspath(path)), s["weights"]),
        "V": m["vocab_size"], "d": m["d_model"], "L": L, "H": m["n_heads"],
        "KVH": m.get("n_kv_heads", m["n_heads"]), "dff": m["d_ff"], "eps": float(m["norm_eps"]),
        "theta": float(m["rope_theta"]), "tie": bool(m.get("tie_embeddings", False)),
        "routed": routed, "cap": cap, "gate": r.get("gate", "raw"),
        "bias": bool(r.get("router_bias", False)), "predictor": r.get("predictor", "router"),
        "shape": (comp.get("shapes") or [[1, 512]])[0],
    }


ST_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16}


def read_safetensors(path):
    """name -> float32 torch tensor"""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=ST_DTYPES[e["dtype"]])
        if e["dtype"] == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        out[name] = torch.from_numpy(arr.astype(np.float32).reshape(e["shape"]))
    return out


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        b = tensors[name].contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ---------------------------------------------------------------- the model (DESIGN 4)

class Model:
    """linear: 'eager' (x @ Wᵀ through torch.nn.functional.linear) or 'mkldnn'."""

    def __init__(self, spec, W, linear="eager"):
        self.s, self.W, self.linear = spec, W, linear
        self.hd = spec["d"] // spec["H"]
        self.mk = {}
        if linear == "mkldnn":
            from torch.utils import mkldnn as mu
            for name, w in W.items():
                if w.dim() == 2 and name.endswith("proj.weight") or name == "lm_head.weight":
                    lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
                    lin.weight.data = w
                    self.mk[name] = mu.to_mkldnn(lin)

    def lin(self, x, name):
        m = self.mk.get(name)
        return m(x) if m is not None else F.linear(x, self.W[name])

    def rmsnorm(self, v, name):
        return v * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + self.s["eps"]) * self.W[name]

    def rope(self, e, pos):
        """e [n, heads, hd] at positions pos [n]"""
        half = self.hd // 2
        inv = self.s["theta"] ** (-torch.arange(half, dtype=torch.float64) * 2 / self.hd)
        ang = pos.to(torch.float64)[:, None] * inv[None, :]
        cos = torch.cat([ang.cos(), ang.cos()], -1).float()[:, None, :]
        sin = torch.cat([ang.sin(), ang.sin()], -1).float()[:, None, :]
        rot = torch.cat([-e[..., half:], e[..., :half]], -1)
        return e * cos + rot * sin

    def attn(self, u, pos, p):
        n, H, KVH, hd = u.shape[0], self.s["H"], self.s["KVH"], self.hd
        q = self.rope(self.lin(u, p + "self_attn.q_proj.weight").view(n, H, hd), pos)
        k = self.rope(self.lin(u, p + "self_attn.k_proj.weight").view(n, KVH, hd), pos)
        v = self.lin(u, p + "self_attn.v_proj.weight").view(n, KVH, hd)
        k = k.repeat_interleave(H // KVH, dim=1)
        v = v.repeat_interleave(H // KVH, dim=1)
        sc = torch.einsum("ihd,jhd->hij", q, k) / math.sqrt(hd)
        mask = pos[None, :] > pos[:, None]
        sc = sc.masked_fill(mask[None], float("-inf"))
        o = torch.einsum("hij,jhd->ihd", sc.softmax(-1), v).reshape(n, H * hd)
        return self.lin(o, p + "self_attn.o_proj.weight")

    def block(self, x, pos, l):
        p = "model.layers.%d." % l
        a = x + self.attn(self.rmsnorm(x, p + "input_layernorm.weight"), pos, p)
        z = self.rmsnorm(a, p + "post_attention_layernorm.weight")
        g, u = self.lin(z, p + "mlp.gate_proj.weight"), self.lin(z, p + "mlp.up_proj.weight")
        return a + self.lin(F.silu(g) * u, p + "mlp.down_proj.weight")

    def router(self, h, l):
        p = "model.layers.%d.router." % l
        r = h @ self.W[p + "weight"][0]
        return r + self.W[p + "bias"][0] if self.s["bias"] else r

    def predictor(self, h, l, r):
        if self.s["predictor"] == "router":
            return r
        p = "model.layers.%d.predictor." % l
        z = F.silu(F.linear(h, self.W[p + "fc1.weight"], self.W[p + "fc1.bias"]))
        return F.linear(z, self.W[p + "fc2.weight"], self.W[p + "fc2.bias"])[:, 0]

    def gate(self, r):
        return r if self.s["gate"] == "raw" else torch.sigmoid(r)

    def routed(self, h, l, S, r):
        if len(S) == 0:
            return h
        x = h[S]
        y = self.block(x, S, l)
        h = h.clone()
        h[S] = x + self.gate(r[S])[:, None] * (y - x)
        return h

    def logits(self, h):
        lm = "model.embed_tokens.weight" if self.s["tie"] else "lm_head.weight"
        return self.lin(self.rmsnorm(h, "model.norm.weight"), lm)

    def forward(self, tokens):
        """modc_forward of one sequence: top-k routing, ties to the smaller position"""
        T = len(tokens)
        h = self.W["model.embed_tokens.weight"][tokens]
        pos = torch.arange(T)
        for l in range(self.s["L"]):
            if not self.s["routed"][l]:
                h = self.block(h, pos, l)
                continue
            k = min(T, max(1, math.ceil(self.s["cap"][l] * T - 1e-9)))
            r = self.router(h, l)
            S = torch.sort(torch.sort(-r, stable=True).indices[:k]).values
            h = self.routed(h, l, S, r)
        return self.logits(h)

    def causal(self, tokens, calibrate=None):
        """a session's prefill of every token: causal routing (predictor > 0).  Returns the
        logits of every position and the routing trace {layer: bool tensor}.  calibrate:
        {layer: capacity}, sets each routed layer's bias, in order, so that that fraction
        of the tokens take it (returns the biases instead of the trace)."""
        T = len(tokens)
        h = self.W["model.embed_tokens.weight"][tokens]
        pos = torch.arange(T)
        trace, biases = {}, {}
        for l in range(self.s["L"]):
            if not self.s["routed"][l]:
                h = self.block(h, pos, l)
                continue
            r = self.router(h, l)
            if calibrate is not None:
                r0 = (r - self.W["model.layers.%d.router.bias" % l][0]).double()
                b = -torch.quantile(r0, 1 - calibrate[l]).item()
                if calibrate[l] >= 1:   # every token: clear the smallest score by a margin
                    b += 0.1 * r0.std().item()
                self.W["model.layers.%d.router.bias" % l] = torch.tensor([b], dtype=torch.float32)
                biases[l] = b
                r = self.router(h, l)
            take = self.predictor(h, l, r) > 0
            trace[l] = take
            h = self.routed(h, l, torch.nonzero(take)[:, 0], r)
        return (biases if calibrate is not None else trace), self.logits(h)


# ---------------------------------------------------------------- time

def read_tokens(path):
    with open(path) as f:
        return torch.tensor([int(t) for t in f.read().split()], dtype=torch.long)


def rel_err(a, b):
    return (a - b).abs().max().item() / max(b.abs().max().item(), 1e-30)


def check_forward(spec, out, prefix):
    """modc's forward logits against ours on the same tokens"""
    ref = torch.from_numpy(np.fromfile(prefix + ".logits", dtype=np.float32)).view(out.shape)
    err = rel_err(out, ref)
    agree = (out.argmax(-1) == ref.argmax(-1)).float().mean().item()
    return err, agree


def check_session(model, prefix):
    """the session's routing trace and last logits (prefill and last decode step)"""
    toks = read_tokens(prefix + ".session.tokens")
    with open(prefix + ".session.routing") as f:
        lines = [ln.split() for ln in f if not ln.startswith("#")]
    with open(prefix + ".session.routing") as f:
        n = int(f.readline().split()[2].rstrip(","))
    trace, logits = model.causal(toks)
    flips = 0
    for l, bits in lines:
        ours = "".join("1" if b else "0" for b in trace[int(l)].tolist())
        flips += sum(a != b for a, b in zip(ours, bits))
    pre = torch.from_numpy(np.fromfile(prefix + ".prefill.logits", dtype=np.float32))
    dec = torch.from_numpy(np.fromfile(prefix + ".decode.logits", dtype=np.float32))
    return flips, sum(len(b) for _, b in lines), rel_err(logits[n - 1], pre), rel_err(logits[-1], dec)


def time_forward(model, tokens, repeats, warmup):
    B, T = tokens.shape
    for _ in range(warmup):
        model.forward(tokens[0])
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = torch.stack([model.forward(tokens[b]) for b in range(B)])
        ts.append(time.perf_counter() - t0)
    return sorted(ts)[len(ts) // 2] if len(ts) % 2 else sum(sorted(ts)[len(ts) // 2 - 1:len(ts) // 2 + 1]) / 2, out


def cmd_time(a):
    spec = load_spec(a.spec)
    W = read_safetensors(spec["weights"])
    B, T = spec["shape"]
    tokens = read_tokens(a.dump + ".tokens").view(B, T)
    kv = open(a.kv, "w") if a.kv else None
    default_threads = torch.get_num_threads()
    name = spec["name"]
    print("PyTorch %s eager: %s, shape %dx%d, default threads %d, median of %d after %d warm-up"
          % (torch.__version__, name, B, T, default_threads, a.repeats, a.warmup))
    checked = False
    for v in a.variants.split(","):
        torch.set_num_threads(default_threads if v == "eager" else 2)
        model = Model(spec, W, "mkldnn" if v.startswith("mkldnn") else "eager")
        t, out = time_forward(model, tokens, a.repeats, a.warmup)
        line = "  %-10s %d threads  median %10.1f ms  %8.3f ms/token" % (v, torch.get_num_threads(), t * 1e3, t * 1e3 / (B * T))
        if kv:
            kv.write("torch.%s.ms=%.6g\ntorch.%s.threads=%d\n" % (v, t * 1e3, v, torch.get_num_threads()))
        if not checked:
            err, agree = check_forward(spec, out, a.dump)
            line += "   forward logits vs modc: max rel err %.2e, argmax agrees %.1f%%" % (err, 100 * agree)
            if kv:
                kv.write("torch.check.forward_rel_err=%.6g\ntorch.check.forward_argmax_agree=%.6g\n" % (err, agree))
            checked = True
        print(line, flush=True)
    if os.path.exists(a.dump + ".session.tokens"):
        model = Model(spec, W, "mkldnn" if "mkldnn-2t" in a.variants else "eager")
        flips, total, e_pre, e_dec = check_session(model, a.dump)
        print("  session vs modc: %d of %d routing decisions differ; last logits max rel err: prefill %.2e, "
              "decode %.2e" % (flips, total, e_pre, e_dec))
        if kv:
            kv.write("torch.check.routing_flips=%d\ntorch.check.routing_total=%d\ntorch.check.prefill_rel_err=%.6g\n"
                     "torch.check.decode_rel_err=%.6g\n" % (flips, total, e_pre, e_dec))
    if kv:
        kv.close()


# ---------------------------------------------------------------- calibrate

def cmd_calibrate(a):
    spec = load_spec(a.spec)
    if spec["predictor"] != "router":
        sys.exit("torch_model.py: calibrate handles predictor: router only")
    W = read_safetensors(spec["weights"])
    spec["bias"] = True
    model = Model(spec, W, "mkldnn")
    g = torch.Generator().manual_seed(a.seed)
    toks = torch.randint(0, spec["V"], (a.tokens,), generator=g)
    want = {l: spec["cap"][l] for l in range(spec["L"]) if spec["routed"][l]}
    for l in want:   # zero until causal() calibrates the layer
        W["model.layers.%d.router.bias" % l] = torch.zeros(1)
    biases, _ = model.causal(toks, calibrate=want)
    write_safetensors(a.out_weights, model.W)
    raw = dict(spec["raw"])
    raw["name"] = a.name or spec["name"] + "cal"
    raw["weights"] = os.path.relpath(os.path.abspath(a.out_weights), os.path.dirname(os.path.abspath(a.out_spec)))
    raw["routing"] = dict(raw["routing"], router_bias=True)
    with open(a.out_spec, "w") as f:
        f.write("# %s with a calibrated router (bench/torch_model.py calibrate): router_bias set per\n"
                "# routed layer so that about `capacity` of %d calibration tokens (seed %d) take the\n"
                "# block under causal routing.  Every other weight is %s's.\n"
                % (spec["name"], a.tokens, a.seed, spec["name"]))
        yaml.safe_dump(raw, f, sort_keys=False, default_flow_style=None)
    print("calibrated %s: biases %s" % (raw["name"], ", ".join("%d: %.3f" % (l, b) for l, b in biases.items())))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("time")
    t.add_argument("spec")
    t.add_argument("--dump", required=True, help="PREFIX given to modc bench --dump")
    t.add_argument("--repeats", type=int, default=1)
    t.add_argument("--warmup", type=int, default=1)
    t.add_argument("--kv")
    t.add_argument("--variants", default="eager,eager-2t,mkldnn-2t")
    c = sub.add_parser("calibrate")
    c.add_argument("spec")
    c.add_argument("--out-spec", required=True)
    c.add_argument("--out-weights", required=True)
    c.add_argument("--name")
    c.add_argument("--tokens", type=int, default=512)
    c.add_argument("--seed", type=int, default=12345)
    a = p.parse_args()
    cmd_time(a) if a.cmd == "time" else cmd_calibrate(a)


if __name__ == "__main__":
    main()
