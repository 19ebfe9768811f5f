#!/bin/bash
# call 4: a multi-CPU library with an AMX set (issue 11 item 2 with item 3), then issue 9's
# many-core figures (bench/device.sh, 1 4 8 16 threads) on a quiet host.
R=$PWD; B=$R/.dev/new; W=/tmp/w; mkdir -p $W/b
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$B/modc.xz'), open('$W/b/modc','wb'))"; chmod +x $W/b/modc
export MODC_RUNTIME_LIB=$B/libmodc_rt.a MODC_RUNTIME_DIR=$B/runtime
M=$W/b/modc
mkdir -p $W/mc && cd $W/mc
cat > x.yaml <<'Y'
modc: 1
name: xm
weights: xm.safetensors
model: {vocab_size: 96, d_model: 64, n_layers: 3, n_heads: 4, n_kv_heads: 2, d_ff: 96, max_seq_len: 160,
        norm_eps: 1.0e-5, rope_theta: 10000.0}
routing: {layers: every_other, capacity: 0.5, gate: raw, predictor: router}
compile: {shapes: [[1, 64], [2, 48]], weights_dtype: bf16}
Y
{
$B/modc-randweights x.yaml -o xm.safetensors
$M compile x.yaml --cpu x86-64-v4,sapphirerapids -o multi/libxm.so
for c in x86-64-v4 sapphirerapids; do $M compile x.yaml --cpu $c -o $c/libxm.so -q; done
ls multi
$M bench multi/libxm.so --threads 4 --repeats 1 --prefill 64 --decode 4 --dump m_best -q 2>&1 | head -1
MODC_CPU=x86-64-v4 $M bench multi/libxm.so --threads 4 --repeats 1 --prefill 64 --decode 4 --dump m_v4 -q > /dev/null
MODC_CPU=sapphirerapids $M bench multi/libxm.so --threads 3 --repeats 1 --prefill 64 --decode 4 --dump m_spr3 -q > /dev/null
for c in x86-64-v4 sapphirerapids; do $M bench $c/libxm.so --threads 4 --repeats 1 --prefill 64 --decode 4 --dump s_$c -q > /dev/null; done
for f in logits prefill.logits decode.logits session.routing; do
  cmp m_best.$f s_sapphirerapids.$f && echo "best set = sapphirerapids alone: $f identical"
  cmp m_spr3.$f s_sapphirerapids.$f && echo "sapphirerapids set on 3 threads: $f identical"
  cmp m_v4.$f s_x86-64-v4.$f && echo "x86-64-v4 set = x86-64-v4 alone: $f identical"
  cmp -s m_v4.$f s_sapphirerapids.$f && echo "NOTE: $f the same through AMX and AVX-512" || echo "$f differs between the AMX and AVX-512 sets (x rounded to bf16)"
done
} > $OUT/multicpu.txt 2>&1
cat $OUT/multicpu.txt
cd $R
THREADS="1 4 8 16" REPEATS=5 WORK=/tmp/dw timeout 400 bench/device.sh /tmp/dev new=$B > /dev/null 2>&1; echo device.sh rc=$?
cp /tmp/dev/log $OUT/device-log.txt; cp /tmp/dev/results.kv $OUT/results.kv
grep -E "^#|forward.ms|prefill.ms|decode.ms|decode.gbs|dram_gbs" /tmp/dev/results.kv | head -80
