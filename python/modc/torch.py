"""modc.torch: a reference PyTorch module of DESIGN.md section 4, and export to modc.

    from modc.torch import Config, MoDModel, export
    cfg = Config(vocab_size=256, d_model=64, n_layers=4, n_heads=4, routed=[1, 3], capacity=0.125)
    model = MoDModel(cfg)                       # train it as you like (top-k routing in forward)
    spec = export(model, "out/", "my_mod")      # out/my_mod.yaml + out/my_mod.safetensors
    modc.compile(spec, "out/libmy_mod.so")      # the same function, compiled

forward(tokens, mode="topk") is modc_forward's function (top-k routing over each sequence);
mode="causal" is a session's (a token takes routed block l iff its decision score p > the
layer's threshold; p is the router's r or the mlp predictor's output).  Weights use Hugging
Face Llama names (DESIGN section 5), so export writes them as they are.  Needs PyTorch.
"""
import dataclasses
import json
import math
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["Config", "MoDModel", "export"]


@dataclasses.dataclass
class Config:
    vocab_size: int
    d_model: int
    n_layers: int
    n_heads: int
    n_kv_heads: int = 0                 # 0: n_heads
    d_ff: int = 0                       # 0: 4 * d_model
    max_seq_len: int = 512
    norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    tie_embeddings: bool = False
    routed: tuple = ()                  # routed layer indices
    capacity: float = 0.125             # or per layer: per_layer_capacity
    gate: str = "raw"                   # raw | sigmoid
    router_bias: bool = False
    predictor: str = "router"           # router | mlp
    predictor_hidden: int = 64
    threshold: float = 0.0
    per_layer_capacity: dict = dataclasses.field(default_factory=dict)
    per_layer_threshold: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        self.n_kv_heads = self.n_kv_heads or self.n_heads
        self.d_ff = self.d_ff or 4 * self.d_model
        self.routed = tuple(sorted(self.routed))
        if self.gate not in ("raw", "sigmoid") or self.predictor not in ("router", "mlp"):
            raise ValueError("gate is raw|sigmoid, predictor router|mlp")
        if self.d_model % self.n_heads or self.n_heads % self.n_kv_heads:
            raise ValueError("n_heads must divide d_model, n_kv_heads n_heads")

    def cap(self, layer):
        return self.per_layer_capacity.get(layer, self.capacity)

    def thr(self, layer):
        return self.per_layer_threshold.get(layer, self.threshold)


def capacity_k(c, T):
    """k = min(T, max(1, ceil(c*T - 1e-9))), in double precision (DESIGN section 4)."""
    return min(T, max(1, math.ceil(c * T - 1e-9)))


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(d)), eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope(x, pos, theta):
    """HF rotate-half RoPE of x [B, H, n, hd] at positions pos [B, n]."""
    hd = x.shape[-1]
    inv = theta ** (-torch.arange(0, hd, 2, dtype=torch.float64, device=x.device) / hd)
    ang = pos.to(torch.float64)[:, None, :, None] * inv
    cos, sin = torch.cat([ang.cos()] * 2, -1).to(x.dtype), torch.cat([ang.sin()] * 2, -1).to(x.dtype)
    rot = torch.cat([-x[..., hd // 2:], x[..., :hd // 2]], -1)
    return x * cos + rot * sin


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        hd = c.d_model // c.n_heads
        self.c, self.hd = c, hd
        self.q_proj = nn.Linear(c.d_model, c.n_heads * hd, bias=False)
        self.k_proj = nn.Linear(c.d_model, c.n_kv_heads * hd, bias=False)
        self.v_proj = nn.Linear(c.d_model, c.n_kv_heads * hd, bias=False)
        self.o_proj = nn.Linear(c.n_heads * hd, c.d_model, bias=False)

    def forward(self, u, pos, allowed):
        """u [B, n, d], pos [B, n], allowed [B, n, n]: query i may see key j."""
        B, n, _ = u.shape
        c, hd = self.c, self.hd
        q = rope(self.q_proj(u).view(B, n, c.n_heads, hd).transpose(1, 2), pos, c.rope_theta)
        k = rope(self.k_proj(u).view(B, n, c.n_kv_heads, hd).transpose(1, 2), pos, c.rope_theta)
        v = self.v_proj(u).view(B, n, c.n_kv_heads, hd).transpose(1, 2)
        rep = c.n_heads // c.n_kv_heads
        k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        s = s.masked_fill(~allowed[:, None], float("-inf"))
        return self.o_proj((s.softmax(-1) @ v).transpose(1, 2).reshape(B, n, c.n_heads * hd))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gate_proj = nn.Linear(c.d_model, c.d_ff, bias=False)
        self.up_proj = nn.Linear(c.d_model, c.d_ff, bias=False)
        self.down_proj = nn.Linear(c.d_ff, c.d_model, bias=False)

    def forward(self, z):
        return self.down_proj(F.silu(self.gate_proj(z)) * self.up_proj(z))


class Predictor(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.fc1 = nn.Linear(c.d_model, c.predictor_hidden)
        self.fc2 = nn.Linear(c.predictor_hidden, 1)

    def forward(self, h):
        return self.fc2(F.silu(self.fc1(h)))[..., 0]


class Layer(nn.Module):
    def __init__(self, c, routed):
        super().__init__()
        self.input_layernorm = RMSNorm(c.d_model, c.norm_eps)
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c.d_model, c.norm_eps)
        self.mlp = MLP(c)
        if routed:
            self.router = nn.Linear(c.d_model, 1, bias=c.router_bias)
            if c.predictor == "mlp":
                self.predictor = Predictor(c)

    def block(self, x, pos, allowed):
        a = x + self.self_attn(self.input_layernorm(x), pos, allowed)
        return a + self.mlp(self.post_attention_layernorm(a))


class MoDModel(nn.Module):
    """DESIGN section 4's model; layer names and shapes are DESIGN section 5's."""

    def __init__(self, config):
        super().__init__()
        c = self.config = config
        self.embed_tokens = nn.Embedding(c.vocab_size, c.d_model)
        self.layers = nn.ModuleList(Layer(c, i in c.routed) for i in range(c.n_layers))
        self.norm = RMSNorm(c.d_model, c.norm_eps)
        self.lm_head = None if c.tie_embeddings else nn.Linear(c.d_model, c.vocab_size, bias=False)

    def gate(self, r):
        return torch.sigmoid(r) if self.config.gate == "sigmoid" else r

    def forward(self, tokens, mode="topk", routing=None):
        """tokens [B, T] -> logits [B, T, V].  mode "topk" | "causal"; routing, a list, gets
        each routed layer's taken flags [B, T] (bool) in layer order."""
        h = self.embed_tokens(tokens)
        B, T = tokens.shape
        pos = torch.arange(T, device=tokens.device).expand(B, T)
        causal = pos[:, :, None] >= pos[:, None, :]
        for i, layer in enumerate(self.layers):
            if not hasattr(layer, "router"):
                h = layer.block(h, pos, causal)
                continue
            r = layer.router(h)[..., 0]
            if mode == "topk":
                h, taken = self._topk(layer, h, r, self.config.cap(i))
            else:
                h, taken = self._causal(layer, h, r, pos, causal, self.config.thr(i))
            if routing is not None:
                routing.append(taken)
        w = self.embed_tokens.weight if self.lm_head is None else self.lm_head.weight
        return self.norm(h) @ w.t()

    def _topk(self, layer, h, r, c):
        B, T, d = h.shape
        k = capacity_k(c, T)
        order = torch.sort(r, dim=1, descending=True, stable=True).indices  # ties: smaller position
        S = order[:, :k].sort(dim=1).values                                  # chosen, ascending
        gi = S[..., None].expand(B, k, d)
        x = h.gather(1, gi)
        y = layer.block(x, S, S[:, :, None] >= S[:, None, :])
        g = self.gate(r.gather(1, S))[..., None]
        taken = torch.zeros_like(r, dtype=torch.bool).scatter(1, S, True)
        return h.scatter(1, gi, x + g * (y - x)), taken

    def _causal(self, layer, h, r, pos, causal, threshold):
        p = layer.predictor(h) if hasattr(layer, "predictor") else r
        taken = p > threshold
        eye = torch.eye(h.shape[1], dtype=torch.bool, device=h.device)[None]
        y = layer.block(h, pos, (causal & taken[:, None, :]) | eye)
        upd = h + self.gate(r)[..., None] * (y - h)
        return torch.where(taken[..., None], upd, h), taken


# ---------------------------------------------------------------------------------------- export

def _safetensors(tensors, path):
    """Write {name: tensor} as F32 safetensors, names sorted."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        raw = tensors[name].detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * (-len(hj) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)) + hj)
        for b in blobs:
            f.write(b)


def _hf_names(model):
    """DESIGN section 5's names for the model's parameters."""
    out = {"model.embed_tokens.weight": model.embed_tokens.weight, "model.norm.weight": model.norm.weight}
    if model.lm_head is not None:
        out["lm_head.weight"] = model.lm_head.weight
    for name, p in model.layers.named_parameters():
        out[f"model.layers.{name}"] = p
    return out


def export(model, dir, name, shapes=((1, 0),), weights_dtype="f32"):
    """Write dir/name.yaml and dir/name.safetensors (f32) for `model`; returns the spec's
    path.  shapes: (batch, seq_len) pairs for modc_forward; seq_len 0 means max_seq_len."""
    c = model.config
    os.makedirs(dir, exist_ok=True)
    _safetensors(_hf_names(model), os.path.join(dir, f"{name}.safetensors"))
    routed = list(c.routed)
    shp = ", ".join(f"[{b}, {t or c.max_seq_len}]" for b, t in shapes)
    per = "".join(f"\n    {l}: {{capacity: {c.cap(l)!r}, threshold: {c.thr(l)!r}}}" for l in routed)
    spec = f"""# written by modc.torch.export
modc: 1
name: {name}
weights: {name}.safetensors
model:
  vocab_size: {c.vocab_size}
  d_model: {c.d_model}
  n_layers: {c.n_layers}
  n_heads: {c.n_heads}
  n_kv_heads: {c.n_kv_heads}
  d_ff: {c.d_ff}
  max_seq_len: {c.max_seq_len}
  norm_eps: {c.norm_eps!r}
  rope_theta: {float(c.rope_theta)!r}
  tie_embeddings: {str(c.tie_embeddings).lower()}
routing:
  layers: {routed if routed else "none"}
  capacity: {c.capacity!r}
  gate: {c.gate}
  router_bias: {str(c.router_bias).lower()}
  predictor: {c.predictor}
  predictor_hidden: {c.predictor_hidden}
  threshold: {c.threshold!r}""" + (f"\n  per_layer:{per}" if routed else "") + f"""
compile:
  shapes: [{shp}]
  weights_dtype: {weights_dtype}
"""
    path = os.path.join(dir, f"{name}.yaml")
    with open(path, "w") as f:
        f.write(spec)
    return path
