#!/usr/bin/env python3
"""make_corpus.py: regenerate the fuzz seed corpora in tests/fuzz/corpus/ from the repo.

  tests/fuzz/make_corpus.py BUILD_DIR     (BUILD_DIR holds modc and modc-randweights)

spec/         every spec in the repo (examples, benchmarks, tests); a tests/diag case's
              "# args: -D X" line becomes the harness's override section (NUL, then X)
safetensors/  tests/diag/*.safetensors, and random weights for the harness's second spec
ir/           tests/ir/*.mlir split at "// -----", and small.yaml's graphs after each pass
Seeds are named by where they came from; run it from anywhere, it rewrites the folder.
"""
import glob, os, re, shutil, subprocess, sys, tempfile

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
build = os.path.abspath(sys.argv[1])
corpus = os.path.join(here, "corpus")


def put(kind, name, data):
    with open(os.path.join(corpus, kind, name), "wb") as f:
        f.write(data)


for kind in ("spec", "safetensors", "ir"):
    shutil.rmtree(os.path.join(corpus, kind), ignore_errors=True)
    os.makedirs(os.path.join(corpus, kind))

# specs
specs = glob.glob(f"{root}/tests/diag/*.yaml") + glob.glob(f"{root}/examples/**/*.yaml", recursive=True) \
    + glob.glob(f"{root}/bench/models/*.yaml") + glob.glob(f"{root}/tests/*/*.yaml")
for p in sorted(set(specs)):
    text = open(p, "rb").read()
    m = re.match(rb"# args:(.*)\n", text)
    defs = re.findall(rb"-D\s*(\S+)", m.group(1)) if m else []
    name = os.path.relpath(p, root).replace("/", "_")
    put("spec", name, text + (b"\0" + b"\n".join(defs) if defs else b""))

# weights
for p in sorted(glob.glob(f"{root}/tests/diag/*.safetensors")):
    put("safetensors", os.path.basename(p), open(p, "rb").read())
with tempfile.TemporaryDirectory() as tmp:
    spec = f"""modc: 1
name: diag
weights: w.safetensors
model: {{vocab_size: 16, d_model: 8, n_layers: 2, n_heads: 2, d_ff: 16, max_seq_len: 64,
        norm_eps: 1.0e-5, rope_theta: 10000.0, tie_embeddings: true}}
routing: {{layers: every_other, capacity: 0.5, gate: raw, router_bias: true, predictor: mlp,
          predictor_hidden: 4}}
compile: {{shapes: [[1, 32]], weights_dtype: bf16}}
"""
    open(f"{tmp}/v.yaml", "w").write(spec)
    subprocess.run([f"{build}/modc-randweights", f"{tmp}/v.yaml", "--seed", "1"], check=True,
                   stdout=subprocess.DEVNULL)
    put("safetensors", "variant_mlp_bias_tied.safetensors", open(f"{tmp}/w.safetensors", "rb").read())

    # IR: the test files' pieces, then a real model's graphs after each pass
    n = 0
    for p in sorted(glob.glob(f"{root}/tests/ir/*.mlir") + glob.glob(f"{root}/tests/ir/Inputs/*.mlir")):
        pieces = re.split(r"(?m)^// -----[ \t\r]*$", open(p).read())
        for i, piece in enumerate(pieces):
            body = "\n".join(l for l in piece.splitlines() if not l.startswith("// RUN") and not l.startswith("// CHECK"))
            if body.strip():
                put("ir", f"{os.path.basename(p)}.{i}", body.encode())
    shutil.copy(f"{root}/tests/cli/small.yaml", tmp)
    subprocess.run([f"{build}/modc-randweights", f"{tmp}/small.yaml", "--seed", "3"], check=True,
                   stdout=subprocess.DEVNULL)
    r = subprocess.run([f"{build}/modc", "compile", f"{tmp}/small.yaml", "--shape", "1,8",
                        "--print-after-all", "--emit", "ir", "-o", "/dev/null"],
                       check=True, stderr=subprocess.PIPE, text=True)
    dumps = re.split(r"(?m)^// \*\*\* IR after (\S+) \((\S+)\) \*\*\*\n", r.stderr)
    for k in range(1, len(dumps), 3):
        put("ir", f"small_{dumps[k + 1]}_after_{dumps[k]}.mir", dumps[k + 2].encode())
