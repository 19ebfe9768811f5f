#!/bin/bash
# test_import_hf.sh: modc import-hf end to end.  A Llama-shaped spec's random weights (HF
# names) go into folders laid out as transformers writes them: config.json and
# model.safetensors, or two shards and model.safetensors.index.json.  The imported spec must
# compute the same function as the original (modc eval's NLL and greedy tokens identical),
# keep GQA and tied embeddings, take bf16 storage from torch_dtype; every config key modc
# cannot honour is refused by name and nothing is written.
# usage: test_import_hf.sh MODC MODC_RANDWEIGHTS WORK_DIR
set -u
M=$1 RW=$2 W=$3 here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
. "$here/testlib.sh"
refuse_import() { local n=$1 p=$2; shift 2; refuse "$n" "$p" "$M" import-hf "$@"; }

cat > ref.yaml <<'Y'
modc: 1
name: ref
weights: ref.safetensors
model: {vocab_size: 300, d_model: 32, n_layers: 2, n_heads: 4, n_kv_heads: 2, d_ff: 40, max_seq_len: 64,
        norm_eps: 1.0e-6, rope_theta: 500000.0, tie_embeddings: true}
routing: {layers: none}
compile: {shapes: [[1, 16]]}
Y
"$RW" ref.yaml --seed 7 > /dev/null || exit 1
config() { # config DIR [EXTRA_JSON_FIELDS]: a transformers-style config.json for ref.yaml
  mkdir -p "$1"
  cat > "$1/config.json" <<J
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 300, "hidden_size": 32,
 "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 40,
 "max_position_embeddings": 64, "rms_norm_eps": 1e-06, "rope_theta": 500000.0, "tie_word_embeddings": true,
 "hidden_act": "silu", "attention_bias": false, "mlp_bias": false, "rope_scaling": null, "bos_token_id": 1,
 "eos_token_id": 2, "torch_dtype": "float32", "use_cache": true${2:-}}
J
}
config hf && cp ref.safetensors hf/model.safetensors
mkdir -p hf2
python3 - ref.safetensors hf2 <<'PY'
# split a safetensors file into two shards and an index, as transformers' save_pretrained does
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n]); data = raw[8 + n:]
names = sorted(k for k in head if k != "__metadata__")
parts = [names[::2], names[1::2]]
wmap = {}
for i, part in enumerate(parts):
    fname = f"model-{i + 1:05d}-of-00002.safetensors"
    h, blob = {}, b""
    for k in part:
        b, e = head[k]["data_offsets"]
        h[k] = {"dtype": head[k]["dtype"], "shape": head[k]["shape"], "data_offsets": [len(blob), len(blob) + e - b]}
        blob += data[b:e]; wmap[k] = fname
    hj = json.dumps(h).encode(); hj += b" " * (-len(hj) % 8)
    open(f"{sys.argv[2]}/{fname}", "wb").write(struct.pack("<Q", len(hj)) + hj + blob)
json.dump({"metadata": {"total_size": len(data)}, "weight_map": wmap}, open(f"{sys.argv[2]}/model.safetensors.index.json", "w"))
PY
[ $? = 0 ] || { mkdir -p hf2; bad "splitting into shards"; }
config hf2

"$M" import-hf hf -o imp.yaml > imp.out 2> imp.err && ok "import-hf of one file" || bad "import-hf: $(cat imp.err)"
expect "the summary names the spec" "wrote imp.yaml: hf, 2 layers, d_model 32" imp.out
expect "routing none" "layers: none" imp.yaml
expect "tied embeddings kept" "tie_embeddings: true" imp.yaml
expect "GQA kept" "n_kv_heads: 2" imp.yaml
expect "rope_theta kept" "rope_theta: 500000" imp.yaml
expect "weights point into the folder" "weights: \"$W/hf/model.safetensors\"" imp.yaml
"$M" import-hf hf2 -o imp2.yaml --name sharded > imp2.out 2> imp2.err && ok "import-hf of two shards" || bad "import-hf shards: $(cat imp2.err)"
expect "the shard index is the weights" "hf2/model.safetensors.index.json\"" imp2.yaml

printf '5 17 250 3 99 42 7 7 1 0 299 13 64 128 200 31 8 9 10 11 12 13 14 15 16\n' > toks.txt
nll() { "$M" eval "$1" --tokens toks.txt --json -q "${@:2}" $([ "${3:-}" = session ] && echo --window 16) | sed -n 's/.*"nll": \([^,]*\),.*/\1/p'; }
gen() { "$M" run "$1" --tokens toks.txt --max-new 8 --temperature 0; }
for s in ref imp imp2; do "$M" compile $s.yaml --shape 1,16 -o $s/lib.so -q 2> c.err || bad "compile $s: $(cat c.err)"; done
for mode in forward session; do
  a=$(nll ref/lib.so --mode $mode) b=$(nll imp/lib.so --mode $mode) c=$(nll imp2/lib.so --mode $mode)
  [ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" = "$c" ] && ok "imported specs compute the original's $mode NLL ($a)" \
    || bad "$mode nll: $a $b $c"
done
[ "$(gen ref/lib.so)" = "$(gen imp2/lib.so)" ] && ok "and its greedy tokens" || bad "greedy tokens differ"

config hfb ', "torch_dtype_note": 0' && sed -i 's/"float32"/"bfloat16"/' hfb/config.json && cp ref.safetensors hfb/model.safetensors
"$M" import-hf hfb -o b.yaml > /dev/null 2>&1 && expect "bfloat16 checkpoints keep bf16 storage" "weights_dtype: bf16" b.yaml \
  || bad "import-hf bfloat16"

# transformers 5 writes RoPE as rope_parameters (and "dtype" for torch_dtype)
config hf5 && sed -i 's/"rope_theta": 500000.0, //; s/"torch_dtype"/"dtype"/' hf5/config.json &&
  sed -i 's/"use_cache": true/"use_cache": true, "rope_parameters": {"rope_type": "default", "rope_theta": 500000.0}/' hf5/config.json &&
  cp ref.safetensors hf5/model.safetensors
"$M" import-hf hf5 -o imp5.yaml > /dev/null 2> imp5.err && expect "rope_parameters' theta taken" "rope_theta: 500000" imp5.yaml \
  || bad "import-hf rope_parameters: $(cat imp5.err)"
"$M" compile imp5.yaml --shape 1,16 -o imp5/lib.so -q 2> c.err || bad "compile imp5: $(cat c.err)"
[ "$(nll ref/lib.so --mode forward)" = "$(nll imp5/lib.so --mode forward)" ] && ok "and it computes the original's NLL" \
  || bad "rope_parameters import computes another function"

# refused, naming the file and key; nothing written
config rp ', "rope_parameters": {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0}'
refuse_import "rope_parameters of another RoPE" "\"rope_parameters.rope_type\" is yarn: only default RoPE" rp -o x.yaml
config rp2 ', "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5}'
refuse_import "rope_parameters with more than theta" "\"rope_parameters.partial_rotary_factor\" is set" rp2 -o x.yaml
refuse_import "a folder without config.json" "nope: no config.json" nope -o x.yaml
config arch && sed -i 's/LlamaForCausalLM/MistralForCausalLM/' arch/config.json && cp ref.safetensors arch/model.safetensors
refuse_import "another architecture" "architecture MistralForCausalLM is not supported" arch -o x.yaml
config rs ', "rope_scaling": {"rope_type": "llama3", "factor": 8.0}' && sed -i 's/"rope_scaling": null, //' rs/config.json
refuse_import "rope scaling" "\"rope_scaling\" is set: rope scaling" rs -o x.yaml
config ab && sed -i 's/"attention_bias": false/"attention_bias": true/' ab/config.json
refuse_import "attention biases" "\"attention_bias\" is set" ab -o x.yaml
config sw ', "sliding_window": 4096'
refuse_import "a sliding window" "\"sliding_window\" is set: sliding-window attention" sw -o x.yaml
config act && sed -i 's/"silu"/"gelu"/' act/config.json
refuse_import "another activation" "\"hidden_act\" is gelu: only silu" act -o x.yaml
config hd ', "head_dim": 16'
refuse_import "a head_dim other than hidden/heads" "\"head_dim\" 16 is not hidden_size / num_attention_heads (8)" hd -o x.yaml
config now
refuse_import "no weights" "now: no model.safetensors or model.safetensors.index.json" now -o x.yaml
mkdir -p bad && printf '{"architectures": ["LlamaForCausalLM"],\n "vocab_size": }' > bad/config.json
refuse_import "config.json that is not JSON, located" "bad/config.json:2:" bad -o x.yaml
config dup ', "vocab_size": 300'
refuse_import "a key given twice" "duplicate object key" dup -o x.yaml
cp -r hf2 miss && rm miss/model-00002-of-00002.safetensors
refuse_import "a missing shard, named" "shard 'model-00002-of-00002.safetensors'" miss -o x.yaml
config small && sed -i 's/"num_hidden_layers": 2/"num_hidden_layers": 3/' small/config.json && cp ref.safetensors small/model.safetensors
refuse_import "weights that do not match the config" "missing tensor 'model.layers.2." small -o x.yaml
[ ! -e x.yaml ] && [ ! -e x.yaml.tmp ] && ok "nothing written for refused checkpoints" || bad "x.yaml written"
"$M" import-hf --help > help.txt && expect "--help says what is refused" "rope_scaling" help.txt || bad "import-hf --help"

finish
