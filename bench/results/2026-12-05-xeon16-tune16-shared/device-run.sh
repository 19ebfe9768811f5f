#!/bin/bash
# call 6: issue 10's 16-thread tune again, its A/B now with B reading A's weights file.
R=$PWD; B=$R/.dev/new; W=/tmp/w; mkdir -p $W/b
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$B/modc.xz'), open('$W/b/modc','wb'))"; chmod +x $W/b/modc
cp $B/modc-randweights $W/b/
export MODC_RUNTIME_LIB=$B/libmodc_rt.a MODC_RUNTIME_DIR=$B/runtime
uptime
BUDGET=60 THREADS=16 SWEEP=0 AGAIN=0 ROUNDS=0 AB_ROUNDS=7 SETTLE=3 timeout 330 bench/tune.sh -b $W/b -o /tmp/t16 -w $W/tw 2>&1 | grep -E "B reads|B/A|tune " | tail -12
cp /tmp/t16/tune-report.md /tmp/t16/tune-*.log /tmp/t16/ab-*.txt $OUT/ 2>/dev/null; cp $W/tw/*.tuning.json $OUT/ 2>/dev/null
grep -h "B reads" /tmp/t16/ab-*.txt; cat /tmp/t16/tune-report.md | head -24
