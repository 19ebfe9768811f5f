#!/bin/bash
# test_gguf.sh: bench/gguf_convert.py on a small dense model (grouped-query attention), read
# back by a GGUF reader written here: the header and metadata llama.cpp needs, every tensor's
# name, ggml shape (reversed), type and aligned offset, the data (q and k rows permuted from
# rotate-half to adjacent-pair order per head, bf16 rounded to nearest even, norms f32), and
# a routed model refused.  llama.cpp itself is not needed (bench/run.sh checks its logits).
#   test_gguf.sh BUILD_DIR WORK_DIR     (exit 77: skipped, no numpy for /usr/bin/python3)
set -u
B=$1 W=$2 here=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-/usr/bin/python3}
conv=$here/../../bench/gguf_convert.py
"$PY" -c "import numpy" 2> /dev/null || { echo "skipped: no numpy for $PY"; exit 77; }
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
sed 's/^  layers: every_other/  layers: none/; s/^name: small/name: dense/; s/^weights: .*/weights: dense.safetensors/' "$here/../cli/small.yaml" > dense.yaml
cp "$here/../cli/small.yaml" routed.yaml
"$B/modc-randweights" dense.yaml --seed 5 > /dev/null || exit 1
fails=0
"$PY" "$conv" dense.yaml f32.gguf > out.txt 2>&1 || { echo "FAIL: f32 conversion: $(cat out.txt)"; fails=1; }
"$PY" "$conv" dense.yaml bf16.gguf --dtype bf16 > out.txt 2>&1 || { echo "FAIL: bf16 conversion: $(cat out.txt)"; fails=1; }
if "$PY" "$conv" routed.yaml routed.gguf > out.txt 2>&1 || ! grep -q "only dense models" out.txt; then
  echo "FAIL: a routed model was not refused: $(cat out.txt)"; fails=1
else
  echo "ok: a routed model is refused"
fi
"$PY" - "$conv" << 'EOF' || fails=1
import importlib.util, struct, sys
import numpy as np
spec = importlib.util.spec_from_file_location("gguf_convert", sys.argv[1])
g = importlib.util.module_from_spec(spec)
spec.loader.exec_module(g)
fails = 0
def check(what, cond):
    global fails
    print(("ok: " if cond else "FAIL: ") + what)
    fails += not cond

def read_gguf(path):
    """header, metadata and tensor table of a GGUF v3 file, read independently of the writer"""
    b = open(path, "rb").read()
    pos = 0
    def take(fmt):
        nonlocal pos
        v = struct.unpack_from("<" + fmt, b, pos)
        pos += struct.calcsize("<" + fmt)
        return v if len(v) > 1 else v[0]
    def string():
        nonlocal pos
        n = take("Q")
        pos += n
        return b[pos - n:pos].decode()
    magic = b[:4]
    pos = 4
    version, nt, nkv = take("I"), take("Q"), take("Q")
    kv = {}
    for _ in range(nkv):
        k, t = string(), take("I")
        kv[k] = string() if t == 8 else take({4: "I", 6: "f"}[t])
    infos = []
    for _ in range(nt):
        name, nd = string(), take("I")
        dims = [take("Q") for _ in range(nd)]
        infos.append((name, dims, take("I"), take("Q")))
    base = pos + (32 - pos % 32) % 32
    return magic, version, kv, infos, b, base

st = g.read_safetensors("dense.safetensors")
H, KVH, d, hd = 4, 2, 48, 12
for path, dt in (("f32.gguf", "f32"), ("bf16.gguf", "bf16")):
    magic, version, kv, infos, b, base = read_gguf(path)
    check("%s: GGUF v3" % dt, magic == b"GGUF" and version == 3)
    check("%s: llama metadata" % dt, kv["general.architecture"] == "llama" and kv["llama.block_count"] == 3
          and kv["llama.attention.head_count"] == H and kv["llama.attention.head_count_kv"] == KVH
          and kv["llama.embedding_length"] == d and kv["llama.feed_forward_length"] == 72
          and kv["llama.vocab_size"] == 256 and kv["tokenizer.ggml.model"] == "none"
          and abs(kv["llama.attention.layer_norm_rms_epsilon"] - 1e-5) < 1e-9 and kv["llama.rope.freq_base"] == 10000)
    names = [i[0] for i in infos]
    check("%s: %d tensors, llama.cpp's names" % (dt, len(names)), len(names) == 2 + 9 * 3 + 1 and
          names[:3] == ["token_embd.weight", "blk.0.attn_norm.weight", "blk.0.attn_q.weight"] and
          names[-2:] == ["output_norm.weight", "output.weight"])
    check("%s: offsets aligned to 32" % dt, all(o % 32 == 0 for _, _, _, o in infos))
    t = {n: (dims, ty, off) for n, dims, ty, off in infos}
    def data(name):
        dims, ty, off = t[name]
        n = int(np.prod(dims))
        raw = np.frombuffer(b, dtype="<u2" if ty == 30 else "<f4", count=n, offset=base + off)
        arr = (raw.astype(np.uint32) << 16).view(np.float32) if ty == 30 else raw
        return arr.reshape(dims[::-1]), ty
    q, qt = data("blk.1.attn_q.weight")
    k, _ = data("blk.1.attn_k.weight")
    norm, nt = data("blk.1.ffn_norm.weight")
    check("%s: ggml dims reversed" % dt, t["blk.0.ffn_up.weight"][0] == [d, 72])
    check("%s: types (matrices %s, norms f32)" % (dt, dt), qt == (30 if dt == "bf16" else 0) and nt == 0)
    check("%s: norms carried exactly" % dt, np.array_equal(norm, st["model.layers.1.post_attention_layernorm.weight"]))
    def rounded(a):
        return (g.to_bf16(a).astype(np.uint32) << 16).view(np.float32) if dt == "bf16" else a
    wq, wk = rounded(st["model.layers.1.self_attn.q_proj.weight"]), rounded(st["model.layers.1.self_attn.k_proj.weight"])
    ok = all(np.array_equal(q[h * hd + 2 * j + p], wq[h * hd + p * hd // 2 + j])
             for h in range(H) for j in range(hd // 2) for p in range(2))
    ok_k = all(np.array_equal(k[h * hd + 2 * j + p], wk[h * hd + p * hd // 2 + j])
               for h in range(KVH) for j in range(hd // 2) for p in range(2))
    check("%s: q rows permuted to adjacent pairs per head" % dt, ok)
    check("%s: k rows permuted per kv head" % dt, ok_k)
    v, _ = data("blk.2.attn_v.weight")
    check("%s: v unpermuted" % dt, np.array_equal(v, rounded(st["model.layers.2.self_attn.v_proj.weight"])))
x = np.array([1.0, 1.00390625, 1.01171875, -2.5, np.inf], dtype=np.float32)   # ties to even, exact, inf
check("bf16 rounds to nearest even", list(g.to_bf16(x)) == [0x3F80, 0x3F80, 0x3F82, 0xC020, 0x7F80])
sys.exit(fails != 0)
EOF
[ "$fails" = 0 ] && echo "test_gguf: all passed" || echo "test_gguf: failed"
[ "$fails" = 0 ]
