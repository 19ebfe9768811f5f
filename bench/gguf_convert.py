#!/usr/bin/env python3
"""gguf_convert.py: a dense modc model (spec + safetensors with Hugging Face Llama names,
DESIGN 5) as a GGUF v3 file that llama.cpp loads as a `llama` model computing the same
function, for bench/run.sh's llama.cpp peer.  numpy only: the GGUF format is written here.

usage:
  gguf_convert.py SPEC.yaml OUT.gguf [--dtype f32|bf16]
  gguf_convert.py check A.logits B.logits --vocab V     two [n][V] f32 logits files compared

Conversion:
  - matrices in the chosen dtype (bf16 rounded to nearest even, as modc's packing does),
    norms always f32 (llama.cpp's own converter does the same);
  - q_proj and k_proj rows permuted within each head: modc (like HF Llama) applies RoPE in the
    "rotate half" layout, pairing element i with i + hd/2, while llama.cpp's llama
    architecture rotates adjacent pairs (2i, 2i + 1).  Reordering each head's rows as
    [0, hd/2, 1, hd/2 + 1, ...] turns one into the other; q.k is unchanged because q and k
    get the same order;
  - no tokenizer: tokenizer.ggml.model = "none" and llama.vocab_size dummy tokens, which is
    what llama.cpp accepts for a model fed token ids (llama-bench draws random ids).
Only dense models (routing: none): llama.cpp has no routed blocks.
"""
import json
import os
import struct
import sys

import numpy as np

GGUF_VERSION = 3
ALIGN = 32
T_UINT32, T_FLOAT32, T_STRING = 4, 6, 8          # GGUF metadata value types
GGML_F32, GGML_BF16 = 0, 30                       # GGML tensor types
FTYPE = {"f32": 0, "bf16": 32}                    # llama_ftype: ALL_F32, MOSTLY_BF16


# ---------------------------------------------------------------- reading the model

def parse_spec(path):
    """the scalars of a modc spec's top level and of its `model:` and `routing:` sections
    (enough of YAML for the specs in bench/models/: `key: value` lines, # comments)"""
    spec, section = {}, None
    with open(path) as f:
        for raw in f:
            line = raw.split("#", 1)[0].rstrip()
            if not line.strip() or ":" not in line:
                continue
            key, val = (s.strip() for s in line.split(":", 1))
            if not raw[0].isspace():
                section = key if not val else None
                if val:
                    spec[key] = val
            elif section in ("model", "routing"):
                spec[section + "." + key] = val
    return spec


def read_safetensors(path):
    """{name: numpy array (f32)} of a safetensors file (F32, BF16 or F16)"""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
    data = np.memmap(path, dtype=np.uint8, mode="r")
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        raw = data[base + a:base + b]
        if t["dtype"] == "F32":
            arr = raw.view("<f4")
        elif t["dtype"] == "BF16":
            arr = (raw.view("<u2").astype(np.uint32) << 16).view(np.float32)
        elif t["dtype"] == "F16":
            arr = raw.view("<f2").astype(np.float32)
        else:
            sys.exit("gguf_convert.py: %s: dtype %s not handled" % (name, t["dtype"]))
        out[name] = arr.reshape(t["shape"])
    return out


class Model:
    """the spec's dimensions and the weights of one dense model"""

    def __init__(self, spec_path):
        s = parse_spec(spec_path)
        if s.get("routing.layers", "none") != "none":
            sys.exit("gguf_convert.py: %s routes layers (%s); only dense models (routing: none) convert: "
                     "llama.cpp has no routed blocks" % (spec_path, s["routing.layers"]))
        w = s.get("weights", "")
        if not w.endswith(".safetensors"):
            sys.exit("gguf_convert.py: weights '%s': only a single .safetensors file is handled" % w)
        self.name = s.get("name", "model")
        self.V, self.d, self.L = int(s["model.vocab_size"]), int(s["model.d_model"]), int(s["model.n_layers"])
        self.H = int(s["model.n_heads"])
        self.KVH = int(s.get("model.n_kv_heads", self.H))
        self.hd = self.d // self.H
        self.dff, self.ctx = int(s["model.d_ff"]), int(s["model.max_seq_len"])
        self.eps, self.theta = float(s["model.norm_eps"]), float(s["model.rope_theta"])
        self.tied = s.get("model.tie_embeddings", "false") == "true"
        self.w = read_safetensors(os.path.join(os.path.dirname(os.path.abspath(spec_path)), w))


def rope_permute(w, heads):
    """rows of a [heads*hd, d] projection from rotate-half to adjacent-pair order per head:
    head row j*2 + p of the result is row p*hd/2 + j of the input"""
    rows, cols = w.shape
    half = rows // heads // 2
    return w.reshape(heads, 2, half, cols).transpose(0, 2, 1, 3).reshape(rows, cols)


class Weights(dict):
    """the safetensors' tensors; a missing one is an error that names it"""

    def __missing__(self, name):
        sys.exit("gguf_convert.py: the weights have no tensor %s" % name)


def tensors(m):
    """(GGUF name, f32 array, is a matrix) in llama.cpp's order and names"""
    w = Weights(m.w)
    out = [("token_embd.weight", w["model.embed_tokens.weight"], True)]
    for i in range(m.L):
        p = "model.layers.%d." % i
        out += [("blk.%d.attn_norm.weight" % i, w[p + "input_layernorm.weight"], False),
                ("blk.%d.attn_q.weight" % i, rope_permute(w[p + "self_attn.q_proj.weight"], m.H), True),
                ("blk.%d.attn_k.weight" % i, rope_permute(w[p + "self_attn.k_proj.weight"], m.KVH), True),
                ("blk.%d.attn_v.weight" % i, w[p + "self_attn.v_proj.weight"], True),
                ("blk.%d.attn_output.weight" % i, w[p + "self_attn.o_proj.weight"], True),
                ("blk.%d.ffn_norm.weight" % i, w[p + "post_attention_layernorm.weight"], False),
                ("blk.%d.ffn_gate.weight" % i, w[p + "mlp.gate_proj.weight"], True),
                ("blk.%d.ffn_up.weight" % i, w[p + "mlp.up_proj.weight"], True),
                ("blk.%d.ffn_down.weight" % i, w[p + "mlp.down_proj.weight"], True)]
    out.append(("output_norm.weight", w["model.norm.weight"], False))
    if not m.tied:
        out.append(("output.weight", w["lm_head.weight"], True))
    return out


# ---------------------------------------------------------------- writing GGUF

def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def kv_bytes(key, val):
    """one metadata pair: key, value type, value (str, float -> f32, int -> u32)"""
    if isinstance(val, str):
        return gstr(key) + struct.pack("<I", T_STRING) + gstr(val)
    if isinstance(val, float):
        return gstr(key) + struct.pack("<If", T_FLOAT32, val)
    return gstr(key) + struct.pack("<II", T_UINT32, val)


def metadata(m, dtype):
    return [("general.architecture", "llama"), ("general.name", m.name), ("general.file_type", FTYPE[dtype]),
            ("general.alignment", ALIGN), ("llama.vocab_size", m.V), ("llama.context_length", m.ctx),
            ("llama.embedding_length", m.d), ("llama.block_count", m.L), ("llama.feed_forward_length", m.dff),
            ("llama.attention.head_count", m.H), ("llama.attention.head_count_kv", m.KVH),
            ("llama.rope.dimension_count", m.hd), ("llama.rope.freq_base", m.theta),
            ("llama.attention.layer_norm_rms_epsilon", m.eps), ("tokenizer.ggml.model", "none")]


def to_bf16(a):
    """f32 -> bf16 bits, round to nearest even, NaN kept quiet (frontend/safetensors_write.c)"""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    r[nan] = ((u[nan] >> 16) | 0x40).astype(np.uint16)
    return r


def encode(arr, matrix, dtype):
    """(ggml type, bytes) of one tensor"""
    if matrix and dtype == "bf16":
        return GGML_BF16, to_bf16(arr).tobytes()
    return GGML_F32, np.ascontiguousarray(arr, dtype="<f4").tobytes()


def pad(n):
    return (ALIGN - n % ALIGN) % ALIGN


def write_gguf(m, path, dtype):
    ts = tensors(m)
    kvs = metadata(m, dtype)
    types = [GGML_BF16 if mat and dtype == "bf16" else GGML_F32 for _, _, mat in ts]
    infos, off = [], 0
    for (name, arr, _), t in zip(ts, types):
        nbytes = arr.size * (2 if t == GGML_BF16 else 4)
        dims = arr.shape[::-1]   # ggml's ne[0] is the innermost (contiguous) dimension
        infos.append(gstr(name) + struct.pack("<I", len(dims)) + struct.pack("<%dQ" % len(dims), *dims) +
                     struct.pack("<IQ", t, off))
        off += nbytes + pad(nbytes)
    head = b"GGUF" + struct.pack("<IQQ", GGUF_VERSION, len(ts), len(kvs))
    head += b"".join(kv_bytes(k, v) for k, v in kvs) + b"".join(infos)
    with open(path + ".tmp", "wb") as f:
        f.write(head + b"\0" * pad(len(head)))
        for name, arr, mat in ts:
            _, data = encode(arr, mat, dtype)
            f.write(data + b"\0" * pad(len(data)))
    os.replace(path + ".tmp", path)
    return len(ts), off


# ---------------------------------------------------------------- checking

def check(a_path, b_path, vocab):
    """two [n][vocab] f32 logits files: relative error and argmax agreement per position"""
    a = np.fromfile(a_path, dtype="<f4").reshape(-1, vocab).astype(np.float64)
    b = np.fromfile(b_path, dtype="<f4").reshape(-1, vocab).astype(np.float64)
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    rel = np.linalg.norm(a - b) / np.linalg.norm(a)
    row = np.linalg.norm(a - b, axis=1) / np.linalg.norm(a, axis=1)
    agree = float(np.mean(a.argmax(1) == b.argmax(1)))
    print("positions %d: logits rel err %.3e (worst position %.3e), max abs diff %.3e, argmax agrees %.1f%%"
          % (n, rel, row.max(), np.abs(a - b).max(), 100 * agree))
    print("kv: llama.check.rel_err=%.6g llama.check.argmax_agree=%.6g llama.check.positions=%d" % (rel, agree, n))
    return rel, agree


def main(argv):
    if len(argv) >= 3 and argv[0] == "check":
        vocab = int(argv[argv.index("--vocab") + 1]) if "--vocab" in argv else sys.exit("check needs --vocab V")
        check(argv[1], argv[2], vocab)
        return
    if len(argv) not in (2, 4) or (len(argv) == 4 and (argv[2] != "--dtype" or argv[3] not in FTYPE)):
        sys.exit(__doc__.split("\n\n")[1])
    dtype = argv[3] if len(argv) == 4 else "f32"
    m = Model(argv[0])
    n, size = write_gguf(m, argv[1], dtype)
    print("gguf_convert.py: %s -> %s (%s, %d tensors, %.1f MB of tensor data)" % (argv[0], argv[1], dtype, n, size / 1e6))


if __name__ == "__main__":
    main(sys.argv[1:])
