#!/bin/bash
# session 23, call 7: the committed pair's decode speed on the Xeon: modc eval TWIN --vs pair_mod10_25 (window by window in
# one process) on held-out-like text (the tail of this machine's python stdlib files), 1, 2 and 16 threads, both orders
R=$PWD; W=/tmp/w; mkdir -p $W/b
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$R/.dev/b23/modc.xz'), open('$W/b/modc','wb'))"; chmod +x $W/b/modc
export MODC_RUNTIME_DIR=$R/.dev/b23/runtime MODC_RUNTIME_LIB=$R/.dev/b23/libmodc_rt.a
M=$W/b/modc
uptime
for n in pair_dense pair_mod10_25; do $M compile $R/examples/pair/$n.yaml -o $W/$n/lib$n.so -q || echo "compile $n failed"; done
py=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
awk 'NR % 50 == 1' $R/examples/train/corpus_files.txt | sed "s|^/usr/lib/python3\.[0-9]*|$py|" | while read -r f; do [ -f "$f" ] && cat "$f"; done | head -c 32768 | tail -c 16384 > $W/test.bin
ls -la $W/test.bin
{ for t in 1 16; do for r in 1 2; do
  echo "== t$t r$r twin vs mod10_25"; timeout 120 $M eval $W/pair_dense/libpair_dense.so --vs $W/pair_mod10_25/libpair_mod10_25.so --bytes $W/test.bin --mode session --window 256 --threads $t -q | tail -3
  echo "== t$t r$r mod10_25 vs twin"; timeout 120 $M eval $W/pair_mod10_25/libpair_mod10_25.so --vs $W/pair_dense/libpair_dense.so --bytes $W/test.bin --mode session --window 256 --threads $t -q | grep -E "B/A|nll"
done; done; } > $OUT/paired.txt 2>&1; cat $OUT/paired.txt
