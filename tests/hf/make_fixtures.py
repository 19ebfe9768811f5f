#!/usr/bin/env python3
"""make_fixtures.py: Llama checkpoints written by Hugging Face transformers itself, with
transformers' own logits and greedy tokens, for tests/cli/test_hf_fixtures.sh (issue 12).

Run where transformers is installed (the GPU machine's image; no GPU needed):
  python3 tests/hf/make_fixtures.py OUT_DIR
Each case is a random-weight LlamaForCausalLM saved by save_pretrained in OUT_DIR/CASE/ (its
config.json exactly as this transformers writes it), and beside it
  ref.json    prompt tokens, greedy continuation, the smallest top-1/top-2 logit gap met
              while generating (near-ties would make greedy tokens a coin flip), versions
  logits.bin  the prompt's logits [T, vocab], float64 little-endian
The reference is the checkpoint loaded afresh with from_pretrained(dtype=float64): a model
converted in memory to bf16 also rounds its RoPE inverse frequencies, the file does not.
Weights are drawn with a large initializer_range so logits are far from uniform.
"""
import json
import os
import sys

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

CASES = [
    # GQA, tied embeddings, bf16 storage, two shards, rope_theta other than the default
    dict(name="gqa_tied_bf16", dtype=torch.bfloat16, shards=2,
         cfg=dict(vocab_size=96, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, intermediate_size=112, max_position_embeddings=64,
                  rms_norm_eps=1e-5, tie_word_embeddings=True), theta=500000.0),
    # MHA, untied, f16 storage, one file, head_dim 16
    dict(name="mha_f16", dtype=torch.float16, shards=1,
         cfg=dict(vocab_size=80, hidden_size=48, num_hidden_layers=3, num_attention_heads=3,
                  num_key_value_heads=3, intermediate_size=96, max_position_embeddings=64,
                  rms_norm_eps=1e-6, tie_word_embeddings=False), theta=10000.0),
    # f32 storage, GQA 4:1, untied, two shards
    dict(name="gqa4_f32", dtype=torch.float32, shards=2,
         cfg=dict(vocab_size=128, hidden_size=64, num_hidden_layers=2, num_attention_heads=8,
                  num_key_value_heads=2, intermediate_size=80, max_position_embeddings=64,
                  rms_norm_eps=1e-5, tie_word_embeddings=False), theta=10000.0),
]
PROMPT_LEN = 12
GREEDY = 20


def make_config(c):
    extra = dict(initializer_range=0.25, bos_token_id=1, eos_token_id=2)
    try:   # transformers 5 keeps RoPE's settings in rope_parameters
        return LlamaConfig(**c["cfg"], **extra, rope_parameters={"rope_type": "default", "rope_theta": c["theta"]})
    except TypeError:
        return LlamaConfig(**c["cfg"], **extra, rope_theta=c["theta"])


def save(model, d, shards):
    """save_pretrained with the shard size that gives exactly `shards` files."""
    total = sum(p.numel() * p.element_size() for p in model.state_dict().values())
    for div in ([1] if shards == 1 else [1.6, 1.8, 1.4, 1.9, 1.3]):
        for f in os.listdir(d) if os.path.isdir(d) else []:
            if f.endswith(".safetensors") or f.endswith(".json"):
                os.remove(os.path.join(d, f))
        size = "10GB" if shards == 1 else f"{int(total / div / 1000) + 1}KB"
        model.save_pretrained(d, max_shard_size=size)
        n = len([f for f in os.listdir(d) if f.endswith(".safetensors")])
        if n == shards:
            return size
    raise SystemExit(f"{d}: no shard size gave {shards} files")


def reference(d, prompt):
    m = LlamaForCausalLM.from_pretrained(d, dtype=torch.float64)
    m.eval()
    with torch.no_grad():
        logits = m(torch.tensor([prompt])).logits[0]
        ids, gap = list(prompt), float("inf")
        for _ in range(GREEDY):         # whole-prefix recompute: no cache in the reference
            last = m(torch.tensor([ids])).logits[0, -1]
            top = last.topk(2)
            gap = min(gap, (top.values[0] - top.values[1]).item())
            ids.append(int(top.indices[0]))
    return logits, ids[len(prompt):], gap


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for i, c in enumerate(CASES):
        torch.manual_seed(100 + i)
        cfg = make_config(c)
        model = LlamaForCausalLM(cfg).to(c["dtype"])
        d = os.path.join(out, c["name"])
        os.makedirs(d, exist_ok=True)
        size = save(model, d, c["shards"])
        g = torch.Generator().manual_seed(7 + i)
        prompt = torch.randint(3, c["cfg"]["vocab_size"], (PROMPT_LEN,), generator=g).tolist()
        logits, greedy, gap = reference(d, prompt)
        with open(os.path.join(d, "logits.bin"), "wb") as f:
            f.write(logits.contiguous().numpy().astype("<f8").tobytes())
        ref = dict(prompt=prompt, greedy=greedy, min_top2_gap=gap, storage=str(c["dtype"]),
                   shards=c["shards"], max_shard_size=size, transformers=transformers.__version__,
                   torch=torch.__version__)
        with open(os.path.join(d, "ref.json"), "w") as f:
            json.dump(ref, f, indent=1)
        print(f"{c['name']}: {sorted(os.listdir(d))}; greedy {greedy}; min top-2 gap {gap:.4f}")
        print(open(os.path.join(d, "config.json")).read())


if __name__ == "__main__":
    main()
