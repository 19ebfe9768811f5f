#!/usr/bin/env python3
"""Train a small byte-level Mixture-of-Depths model (DESIGN.md section 4) and save it
with Hugging Face Llama names (DESIGN.md section 5) as BF16 safetensors.

Model: vocab 256 (bytes), d_model 256, 6 layers, 4 heads, 2 kv heads (GQA), d_ff 640,
untied lm_head, routing every_other (layers 1, 3, 5) at capacity 0.125, gate raw,
no router bias, predictor router (causal rule: take the block iff r > 0).

Training uses the paper's top-k routing over each 256-byte sequence plus an auxiliary
BCE loss on the router logits r (target 1 for the top-k tokens) so that the causal rule
r > 0 used for generation agrees with top-k membership.  --predictor mlp adds the paper's
auxiliary predictor instead (DESIGN section 4: p = fc2(silu(fc1 h)), hidden --predictor-hidden)
for the causal rule p > 0, trained by the same BCE on the routed layer's input with the
gradient stopped there, so that it learns the decision without changing the model: it draws
its initialisation outside the model's random stream and its gradients are clipped apart, so
the model trains exactly as without it.

Usage (GPU machine):
  python3 examples/train/train_mod.py --out DIR --seconds 290
Writes DIR/bytes_mod.safetensors, DIR/train_log.txt, DIR/corpus_files.txt.

The shape, the routing and the corpus are options (defaults: the model above), so one recipe
trains a MoD model and its dense twin (--routing none) at equal training FLOPs (DESIGN
section 1: about 1.5x the steps for MoD); examples/train/run_pair.sh does that.
--corpus stdlib+site adds the interpreter's site-packages sources to the training set (never
to validation, which stays every 50th standard-library file).
"""
import argparse
import json
import math
import os
import struct
import sys
import sysconfig
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB = 256
D_MODEL = 256
N_LAYERS = 6
N_HEADS = 4
N_KV_HEADS = 2
D_FF = 640
HEAD_DIM = D_MODEL // N_HEADS
ROUTED = (1, 3, 5)          # every_other
CAPACITY = 0.125
PREDICTOR = "router"        # the causal rule: router (r > 0) or mlp (p > 0)
ROUTE_SCOPE = "sequence"    # training's top-k: over each sequence (DESIGN section 4) or the whole batch
TAU = {}                    # causal thresholds by layer (batch scope: the training cut, after training)
PRED_HIDDEN = 64
ROPE_THETA = 10000.0
NORM_EPS = 1e-5


def configure(args):
    """Sets the model's shape and routing from the command line (module constants, read when
    the model is built)."""
    global D_MODEL, N_LAYERS, N_HEADS, N_KV_HEADS, D_FF, HEAD_DIM, ROUTED, CAPACITY, PREDICTOR, PRED_HIDDEN
    global ROUTE_SCOPE
    PREDICTOR, PRED_HIDDEN = args.predictor, args.predictor_hidden
    ROUTE_SCOPE = getattr(args, "route_scope", "sequence")
    D_MODEL, N_LAYERS, N_HEADS, N_KV_HEADS, D_FF = args.d_model, args.layers, args.heads, args.kv_heads, args.d_ff
    HEAD_DIM = D_MODEL // N_HEADS
    if args.routed:
        ROUTED = tuple(sorted({int(i) for i in args.routed.split(",")}))
        if any(i < 0 or i >= N_LAYERS for i in ROUTED):
            sys.exit(f"train_mod.py: --routed {args.routed}: layers are 0..{N_LAYERS - 1}")
    elif args.routing == "every_other":
        ROUTED = tuple(range(1, N_LAYERS, 2))
    elif args.routing == "drr":                 # dense, routed, routed: two of every three
        ROUTED = tuple(i for i in range(N_LAYERS) if i % 3 != 0)
    else:
        ROUTED = ()
    CAPACITY = args.capacity


def capacity_k(c, T):
    return min(T, max(1, math.ceil(c * T - 1e-9)))


# ----------------------------------------------------------------------------- corpus

def py_files(top, skip=("site-packages", "dist-packages", "__pycache__")):
    """The .py files under top, walked in sorted order."""
    files = []
    for root, dirs, names in os.walk(top):
        dirs[:] = sorted(d for d in dirs if d not in skip)
        for n in sorted(names):
            if n.endswith(".py"):
                files.append(os.path.join(root, n))
    return files


def corpus_files():
    """Deterministic list of text files on this machine: Python's standard library
    sources (sorted by path) and, where present, /usr/share/common-licenses."""
    files = py_files(sysconfig.get_paths()["stdlib"])
    lic = "/usr/share/common-licenses"
    if os.path.isdir(lic):
        for n in sorted(os.listdir(lic)):
            p = os.path.join(lic, n)
            if os.path.isfile(p) and not os.path.islink(p):
                files.append(p)
    return files


def read_file(p, limit=None):
    try:
        with open(p, "rb") as f:
            b = f.read()
    except OSError:
        return b""
    return b"" if limit is not None and len(b) > limit else b


def build_corpus(max_bytes, site=False):
    """Returns (train_bytes, val_bytes, used_files). Every 50th standard-library file goes to
    validation.  With site, the site-packages sources (files up to 1 MB; sorted; duplicates of
    a file already taken skipped) follow in the training set, up to max_bytes in all."""
    train, val, used, seen = [], [], [], set()
    total = [0]

    def take(p, b, to, dedupe):
        """False when max_bytes is reached; else p's bytes b go to `to` (empty files, and with
        dedupe files whose bytes were taken already, are skipped)."""
        if not b or (dedupe and hash(b) in seen):
            return True
        if total[0] + len(b) > max_bytes:
            return False
        total[0] += len(b)
        used.append(p)
        seen.add(hash(b))
        to.append(b)
        return True

    for i, p in enumerate(corpus_files()):
        if not take(p, read_file(p), val if i % 50 == 0 else train, False):
            break
    if site:
        for p in py_files(sysconfig.get_paths()["purelib"], skip=("__pycache__",)):
            if not take(p, read_file(p, 1 << 20), train, True):
                break
    return b"".join(train), b"".join(val), used


# ----------------------------------------------------------------------------- model

class RMSNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        xf = x.float()
        return xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + NORM_EPS) * self.weight.float()


def rope_cos_sin(pos, device):
    """pos: [B, n] integer positions -> cos, sin [B, 1, n, hd] (HF rotate-half layout)."""
    inv_freq = ROPE_THETA ** (-torch.arange(0, HEAD_DIM, 2, device=device, dtype=torch.float32) / HEAD_DIM)
    ang = pos.float()[..., None] * inv_freq          # [B, n, hd/2]
    ang = torch.cat([ang, ang], dim=-1)              # [B, n, hd]
    return ang.cos()[:, None], ang.sin()[:, None]


def sdpa(q, k, v, mask):
    """softmax(q k^T / sqrt(hd)) v; mask None = causal, else boolean (True = attend)."""
    if hasattr(F, "scaled_dot_product_attention"):
        if mask is None:
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    n = q.shape[-2]
    if mask is None:
        mask = torch.ones(n, n, dtype=torch.bool, device=q.device).tril()
    s = (q.float() @ k.float().transpose(-1, -2)) / math.sqrt(HEAD_DIM)
    s = s.masked_fill(~mask, float("-inf"))
    return (s.softmax(-1) @ v.float()).to(v.dtype)


def rotate_half(x):
    x1, x2 = x[..., : HEAD_DIM // 2], x[..., HEAD_DIM // 2:]
    return torch.cat([-x2, x1], dim=-1)


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj = nn.Linear(D_MODEL, N_HEADS * HEAD_DIM, bias=False)
        self.k_proj = nn.Linear(D_MODEL, N_KV_HEADS * HEAD_DIM, bias=False)
        self.v_proj = nn.Linear(D_MODEL, N_KV_HEADS * HEAD_DIM, bias=False)
        self.o_proj = nn.Linear(N_HEADS * HEAD_DIM, D_MODEL, bias=False)

    def forward(self, u, pos, mask=None):
        B, n, _ = u.shape
        q = self.q_proj(u).view(B, n, N_HEADS, HEAD_DIM).transpose(1, 2)
        k = self.k_proj(u).view(B, n, N_KV_HEADS, HEAD_DIM).transpose(1, 2)
        v = self.v_proj(u).view(B, n, N_KV_HEADS, HEAD_DIM).transpose(1, 2)
        cos, sin = rope_cos_sin(pos, u.device)
        q = (q.float() * cos + rotate_half(q.float()) * sin).to(v.dtype)
        k = (k.float() * cos + rotate_half(k.float()) * sin).to(v.dtype)
        rep = N_HEADS // N_KV_HEADS                     # query head j uses kv head j // rep
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        if mask is None:
            # rows are sorted by position, so "pos[j] <= pos[i]" is the causal mask
            o = sdpa(q, k, v, None)
        else:
            o = sdpa(q, k, v, mask[:, None])
        return self.o_proj(o.transpose(1, 2).reshape(B, n, N_HEADS * HEAD_DIM))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.gate_proj = nn.Linear(D_MODEL, D_FF, bias=False)
        self.up_proj = nn.Linear(D_MODEL, D_FF, bias=False)
        self.down_proj = nn.Linear(D_FF, D_MODEL, bias=False)

    def forward(self, z):
        return self.down_proj(F.silu(self.gate_proj(z)) * self.up_proj(z))


class Predictor(nn.Module):
    """predictor: mlp (DESIGN section 4): p = fc2(silu(fc1 h)) from the routed layer's input."""
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(D_MODEL, PRED_HIDDEN)
        self.fc2 = nn.Linear(PRED_HIDDEN, 1)

    def forward(self, h):
        return self.fc2(F.silu(self.fc1(h))).squeeze(-1).float()


class Layer(nn.Module):
    def __init__(self, routed):
        super().__init__()
        self.input_layernorm = RMSNorm(D_MODEL)
        self.self_attn = Attention()
        self.post_attention_layernorm = RMSNorm(D_MODEL)
        self.mlp = MLP()
        self.routed = routed
        if routed:
            self.router = nn.Linear(D_MODEL, 1, bias=False)
            if PREDICTOR == "mlp":
                with torch.random.fork_rng(devices=[]):   # the model's own draws stay as without it
                    self.predictor = Predictor()

    def block(self, x, pos, mask=None):
        """Pre-norm Llama block; returns y - x (the residual update) in float32."""
        a_delta = self.self_attn(self.input_layernorm(x), pos, mask).float()
        a = x + a_delta
        return a_delta + self.mlp(self.post_attention_layernorm(a)).float()


class MoDModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_tokens = nn.Embedding(VOCAB, D_MODEL)
        self.layers = nn.ModuleList([Layer(i in ROUTED) for i in range(N_LAYERS)])
        self.norm = RMSNorm(D_MODEL)
        self.lm_head = nn.Linear(D_MODEL, VOCAB, bias=False)
        for name, p in self.named_parameters():
            if ".predictor." in name:                  # keeps nn.Linear's own initialisation
                continue
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)
            if name.endswith("o_proj.weight") or name.endswith("down_proj.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * N_LAYERS))
        nn.init.normal_(self.embed_tokens.weight, std=1.0)

    def forward(self, tokens, mode="topk", collect=None, cuts=None):
        """tokens [B, T] -> (logits [B, T, V] float32, aux BCE loss, router stats).
        mode 'topk': DESIGN section 4 top-k routing (ROUTE_SCOPE batch: the k = c B T largest r
        of the whole batch, a cut that hardly moves between batches, so a constant threshold
        on r is the same rule in a session); 'causal': take the block iff p > TAU (0 unless
        set; p = r, or the mlp predictor's output).  Router stats: how often p > 0 agrees with
        top-k.  collect: a list that gets (layer, its input h, the top-k target) for each
        routed layer (fit_predictor.py); cuts: one that gets each routed layer's batch cut."""
        B, T = tokens.shape
        dev = tokens.device
        h = self.embed_tokens(tokens).float()
        pos_all = torch.arange(T, device=dev).expand(B, T)
        aux = torch.zeros((), device=dev)
        stats = []
        for li, layer in enumerate(self.layers):
            if not layer.routed:
                h = h + layer.block(h, pos_all)
                continue
            r = h @ layer.router.weight.float()[0]                     # [B, T], float32
            k = capacity_k(CAPACITY, T)
            if ROUTE_SCOPE == "batch":
                cut = r.detach().flatten().topk(capacity_k(CAPACITY, B * T)).values[-1]
                target = (r.detach() >= cut).float()
                if cuts is not None:
                    cuts.append(cut)
            else:
                top = r.topk(k, dim=1).indices
                target = torch.zeros_like(r).scatter_(1, top, 1.0)
            if collect is not None:
                collect.append((layer, h.detach(), target))
            aux = aux + F.binary_cross_entropy_with_logits(r, target)
            p = r
            if PREDICTOR == "mlp":                                     # learns from h, never changes it
                p = layer.predictor(h.detach())
                aux = aux + F.binary_cross_entropy_with_logits(p, target)
            stats.append(((p > 0).float() == target).float().mean())   # predictor accuracy
            if mode == "topk" and ROUTE_SCOPE == "sequence":
                idx = top.sort(dim=1).values                           # S ascending
                gidx = idx[..., None].expand(B, k, D_MODEL)
                x = h.gather(1, gidx)
                rs = r.gather(1, idx)
                upd = x + rs[..., None] * layer.block(x, idx)
                h = h.scatter(1, gidx, upd)
            else:
                taken = target > 0 if mode == "topk" else p > TAU.get(li, 0.0)   # [B, T]
                i = torch.arange(T, device=dev)
                mask = (i[None, :, None] >= i[None, None, :]) & taken[:, None, :]
                mask = mask | torch.eye(T, dtype=torch.bool, device=dev)[None]
                upd = h + r[..., None] * layer.block(h, pos_all, mask)
                h = torch.where(taken[..., None], upd, h)
        logits = self.lm_head(self.norm(h)).float()
        return logits, aux / max(1, len(ROUTED)), stats


# ----------------------------------------------------------------------------- safetensors

def save_safetensors_bf16(state, path):
    """Minimal safetensors writer (all tensors BF16), names in sorted order."""
    header, blobs, off = {}, [], 0
    for name in sorted(state):
        t = state[name].detach().to("cpu", torch.bfloat16).contiguous()
        raw = t.view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": "BF16", "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header["__metadata__"] = {"format": "pt", "producer": "modc examples/train/train_mod.py"}
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def hf_state_dict(model):
    sd = {"model.embed_tokens.weight": model.embed_tokens.weight,
          "model.norm.weight": model.norm.weight,
          "lm_head.weight": model.lm_head.weight}
    for i, L in enumerate(model.layers):
        p = f"model.layers.{i}."
        sd[p + "input_layernorm.weight"] = L.input_layernorm.weight
        sd[p + "post_attention_layernorm.weight"] = L.post_attention_layernorm.weight
        for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
            sd[p + f"self_attn.{n}.weight"] = getattr(L.self_attn, n).weight
        for n in ("gate_proj", "up_proj", "down_proj"):
            sd[p + f"mlp.{n}.weight"] = getattr(L.mlp, n).weight
        if L.routed:
            sd[p + "router.weight"] = L.router.weight                  # [1, d]
            if PREDICTOR == "mlp":
                for n in ("fc1", "fc2"):
                    sd[p + f"predictor.{n}.weight"] = getattr(L.predictor, n).weight
                    sd[p + f"predictor.{n}.bias"] = getattr(L.predictor, n).bias
    return sd


# ----------------------------------------------------------------------------- training

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seconds", type=float, default=290.0, help="training wall-clock budget")
    ap.add_argument("--steps", type=int, default=1_000_000, help="step cap (schedule uses the min of both)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--aux-weight", type=float, default=0.1)
    ap.add_argument("--corpus-mb", type=float, default=12.0)
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--name", default="bytes_mod", help="the weights file is NAME.safetensors")
    ap.add_argument("--d-model", type=int, default=D_MODEL)
    ap.add_argument("--layers", type=int, default=N_LAYERS)
    ap.add_argument("--heads", type=int, default=N_HEADS)
    ap.add_argument("--kv-heads", type=int, default=N_KV_HEADS)
    ap.add_argument("--d-ff", type=int, default=D_FF)
    ap.add_argument("--routing", choices=("every_other", "drr", "none"), default="every_other",
                    help="every_other: layers 1, 3, 5, ...; drr: all but every third (1, 2, 4, 5, ...)")
    ap.add_argument("--routed", default="", help="comma-separated routed layers (overrides --routing)")
    ap.add_argument("--compile", action="store_true",
                    help="torch.compile the training forward (same maths, fewer kernel launches)")
    ap.add_argument("--capacity", type=float, default=CAPACITY)
    ap.add_argument("--predictor", choices=("router", "mlp"), default=PREDICTOR,
                    help="the causal rule's score: the router (r > 0) or the paper's mlp predictor (p > 0)")
    ap.add_argument("--predictor-hidden", type=int, default=PRED_HIDDEN)
    ap.add_argument("--corpus", choices=("stdlib", "stdlib+site"), default="stdlib")
    ap.add_argument("--route-scope", choices=("sequence", "batch"), default="sequence",
                    help="training's top-k over each sequence (DESIGN section 4) or over the whole batch "
                         "(then sessions route by r > 0, or by the mean training cut per layer that "
                         "NAME.tau.json records after training; a model for sessions only)")
    args = ap.parse_args()
    configure(args)
    os.makedirs(args.out, exist_ok=True)
    logf = open(os.path.join(args.out, "train_log.txt"), "w")

    def log(*a):
        s = " ".join(str(x) for x in a)
        print(s, flush=True)
        logf.write(s + "\n")
        logf.flush()

    torch.manual_seed(args.seed)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    if dev == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    train_b, val_b, used = build_corpus(int(args.corpus_mb * 1e6), site=args.corpus == "stdlib+site")
    with open(os.path.join(args.out, "corpus_files.txt"), "w") as f:
        f.write("\n".join(used) + "\n")
    with open(os.path.join(args.out, "corpus_val.bin"), "wb") as f:
        f.write(val_b)
    log(f"corpus: {len(used)} files, train {len(train_b)} bytes, val {len(val_b)} bytes; "
        f"torch {torch.__version__}, device {dev}"
        + (f" ({torch.cuda.get_device_name()})" if dev == "cuda" else ""))
    # bytes stay uint8 on the device (a large corpus as int64 would take 8x the memory)
    train_t = torch.frombuffer(bytearray(train_b), dtype=torch.uint8).to(dev)
    val_t = torch.frombuffer(bytearray(val_b), dtype=torch.uint8).to(dev)

    model = MoDModel().to(dev)
    nparam = sum(p.numel() for p in model.parameters())
    log(f"parameters: {nparam}; d_model {D_MODEL}, layers {N_LAYERS}, heads {N_HEADS}/{N_KV_HEADS}, d_ff {D_FF}, "
        f"routed layers {list(ROUTED)} at capacity {CAPACITY}; batch {args.batch} x {args.seq}, "
        f"steps {args.steps}, seconds {args.seconds}")
    nodecay = ("router", "predictor", "embed")
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and not any(k in n for k in nodecay)]
    other = [p for n, p in model.named_parameters() if not (p.dim() == 2 and not any(k in n for k in nodecay))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8,
                            **({"fused": True} if dev == "cuda" else {}))
    clip_groups = [[p for n, p in model.named_parameters() if (".predictor." in n) == pred] for pred in (False, True)]
    clip_groups = [g for g in clip_groups if g]
    T = args.seq
    # the compiled model shares the parameters; evaluation runs eager (other batch shapes)
    step_model = torch.compile(model) if args.compile else model
    gen = torch.Generator(device=dev).manual_seed(args.seed)

    def batch(data, B, g=None):
        off = torch.randint(0, data.numel() - T - 1, (B,), device=dev, generator=g)
        idx = off[:, None] + torch.arange(T + 1, device=dev)
        w = data[idx].long()
        return w[:, :-1], w[:, 1:]

    amp = torch.autocast(device_type="cuda", dtype=torch.bfloat16) if dev == "cuda" else \
        torch.autocast(device_type="cpu", dtype=torch.bfloat16)

    @torch.no_grad()
    def evaluate(nbatch=8):
        model.eval()
        g = torch.Generator(device=dev).manual_seed(999)
        res = {}
        for mode in ("topk", "causal"):
            tot, acc = 0.0, 0.0
            g.manual_seed(999)
            for _ in range(nbatch):
                x, y = batch(val_t, 32, g)
                with amp:
                    logits, _, st = model(x, mode)
                tot += F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1)).item()
                acc += sum(s.item() for s in st) / max(1, len(st))
            res[mode] = tot / nbatch
            res["router_acc"] = acc / nbatch
        model.train()
        return res

    @torch.no_grad()
    def evaluate_all():
        """Mean CE over the whole validation text in windows of T bytes (each byte predicted
        from the bytes before it in its window), both routing modes."""
        model.eval()
        n = (val_t.numel() - 1) // T
        w = val_t[: n * T + 1]
        res = {"tokens": n * (T - 1)}
        for mode in ("topk", "causal"):
            tot = 0.0
            for i in range(0, n, 64):
                j = min(n, i + 64)
                x = torch.stack([w[r * T:(r + 1) * T] for r in range(i, j)]).long()
                with amp:
                    logits, _, _ = model(x, mode)
                tot += F.cross_entropy(logits[:, :-1].reshape(-1, VOCAB), x[:, 1:].reshape(-1),
                                       reduction="sum").item()
            res[mode] = tot / res["tokens"]
        model.train()
        return res

    # the checkpoint kept is the best by the rule sessions use where that is the training's own:
    # with top-k over the batch, a validation batch's own cut is another rule (r > TAU is it)
    keep = "causal" if ROUTE_SCOPE == "batch" else "topk"
    warm = 200
    t0 = time.time()
    step = 0
    best = (float("inf"), None, 0)
    ema = None
    while True:
        el = time.time() - t0
        prog = max(step / args.steps, el / args.seconds)
        if prog >= 1.0:
            break
        lr = args.lr * min(1.0, (step + 1) / warm) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * prog)))
        for gq in opt.param_groups:
            gq["lr"] = lr
        x, y = batch(train_t, args.batch, gen)
        with amp:
            try:
                logits, aux, _ = step_model(x, "topk")
            except Exception as e:          # a compiler failure falls back to eager, logged
                if step_model is model:
                    raise
                log(f"torch.compile failed ({type(e).__name__}: {str(e)[:200]}); training eager")
                step_model = model
                logits, aux, _ = model(x, "topk")
            ce = F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
            loss = ce + args.aux_weight * aux
        opt.zero_grad(set_to_none=True)
        loss.backward()
        for group in clip_groups:                     # the predictors' gradients never scale the model's
            torch.nn.utils.clip_grad_norm_(group, 1.0)
        opt.step()
        step += 1
        if step % 100 == 0:
            c = ce.item()
            ema = c if ema is None else 0.9 * ema + 0.1 * c
            log(f"step {step:6d}  t {time.time() - t0:6.1f}s  lr {lr:.2e}  ce {c:.4f} (ema {ema:.4f}) "
                f"bits/byte {c / math.log(2):.3f}  aux {aux.item():.4f}")
        if step % args.eval_every == 0:
            ev = evaluate()
            log(f"eval step {step}: val ce topk {ev['topk']:.4f}  causal {ev['causal']:.4f}  "
                f"router acc (r>0 == in top-k) {ev['router_acc']:.4f}")
            if ev[keep] < best[0]:
                best = (ev[keep], {k: v.detach().clone() for k, v in model.state_dict().items()}, step)
    if step < args.steps and args.steps < 1_000_000:
        log(f"stopped by --seconds at step {step} of {args.steps}")
    ev = evaluate()
    log(f"final step {step} ({time.time() - t0:.1f}s): val ce topk {ev['topk']:.4f}  causal {ev['causal']:.4f}  "
        f"router acc {ev['router_acc']:.4f}")
    if best[1] is not None and best[0] < ev[keep]:
        model.load_state_dict(best[1])
        log(f"restored best checkpoint from step {best[2]} (val ce {keep} {best[0]:.4f})")
    if ROUTE_SCOPE == "batch":
        # the causal thresholds: each routed layer's cut, the mean over training batches
        model.eval()
        g = torch.Generator(device=dev).manual_seed(args.seed + 1)
        acc = {}
        with torch.no_grad():
            for _ in range(16):
                cuts = []
                with amp:
                    model(batch(train_t, args.batch, g)[0], "topk", cuts=cuts)
                for l, c in zip(ROUTED, cuts):
                    acc[l] = acc.get(l, 0.0) + c.item() / 16
        model.train()
        TAU.update(acc)
        with open(os.path.join(args.out, args.name + ".tau.json"), "w") as f:
            json.dump({str(l): v for l, v in TAU.items()}, f)
        log("causal thresholds (the batch cut, mean of 16 training batches): "
            + " ".join(f"{l}:{v:.4f}" for l, v in TAU.items()))
    full = evaluate_all()
    log(f"whole validation text ({full['tokens']} bytes scored, windows of {T}): "
        f"ce topk {full['topk']:.4f}  causal {full['causal']:.4f} nats/byte")
    path = os.path.join(args.out, args.name + ".safetensors")
    save_safetensors_bf16(hf_state_dict(model), path)
    log(f"saved {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
