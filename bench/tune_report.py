#!/usr/bin/env python3
"""tune_report.py: bench/tune.sh's report (markdown on stdout) from its key=value files.

usage: tune_report.py OUT_DIR WORK_DIR MODEL ...

Rows: each model's tuned/untuned ratio of forward, prefill and decode time, round by round
(the median round decides; goal >= 0.98x as fast, i.e. tuned/untuned time <= 1.02); the
tune runs (time taken, summary); the two tunes of the first model, their records timed side
by side in one process (modc tune --compare; goal: the weighted totals within 3%); the
exhaustive sweep (tuned ms over the sweep's best, goal <= 1.03); and the gains per kernel
kind from the records files.
"""
import json
import os
import re
import statistics
import sys


def kv(path):
    d = {}
    if os.path.exists(path):
        for line in open(path):
            k, _, v = line.rstrip("\n").partition("=")
            d[k] = v
    return d


def rounds(out, name):
    r, i = [], 1
    while os.path.exists(f"{out}/tkv/{name}.r{i}.kv"):
        r.append(kv(f"{out}/tkv/{name}.r{i}.kv"))
        i += 1
    return r


def fnum(d, k):
    try:
        return float(d[k])
    except (KeyError, ValueError):
        return None


def kind(key):
    m = re.match(r"k_(kv_attention|attention|matmul_[a-z_]+?|matmul)_(?:n|l|h)", key)
    return m.group(1) if m else key.split("_")[1]


def main():
    out, work, models = sys.argv[1], sys.argv[2], sys.argv[3:]
    env, tune = kv(f"{out}/tkv/env.kv"), kv(f"{out}/tkv/tune.kv")
    print(f"# modc tune: tuned against untuned\n\n{env.get('date', '')}; {env.get('cpu', '')}; "
          f"{env.get('threads', '?')} threads; budget {env.get('budget', 'default')}\n")
    print("| model | figure | untuned ms | tuned ms | tuned/untuned [rounds] | goal <= 1.02 |")
    print("|---|---|---|---|---|---|")
    for m in models:
        a, b = rounds(out, m), rounds(out, m + "-tuned")
        for fig in ("forward.ms", "prefill.ms", "decode.ms"):
            pairs = [(fnum(x, fig), fnum(y, fig)) for x, y in zip(a, b)]
            pairs = [(x, y) for x, y in pairs if x and y]
            if not pairs:
                continue
            ratios = [y / x for x, y in pairs]
            med = statistics.median(ratios)
            ua = statistics.median(x for x, _ in pairs)
            ub = statistics.median(y for _, y in pairs)
            rs = ", ".join(f"{r:.3f}" for r in ratios)
            print(f"| {m} | {fig} | {ua:.2f} | {ub:.2f} | {med:.3f} [{rs}] | {'pass' if med <= 1.02 else '**fail**'} |")
    ab = [(m, kv(f"{out}/tkv/{m}.ab.kv")) for m in models]
    if any(d for _, d in ab):
        print("\n## Tuned against untuned, call by call in one process (`modc bench UNTUNED --vs TUNED`)\n")
        print("| model | figure | untuned ms | tuned ms | tuned/untuned, median round [min - max] | goal <= 1.02 |")
        print("|---|---|---|---|---|---|")
        for m, d in ab:
            for fig in ("forward", "prefill", "decode"):
                r = fnum(d, f"ab.{fig}.ratio")
                if r is None:
                    continue
                print(f"| {m} | {fig} | {fnum(d, f'ab.{fig}.a_ms'):.3f} | {fnum(d, f'ab.{fig}.b_ms'):.3f} | "
                      f"{r:.3f} [{fnum(d, f'ab.{fig}.ratio_min'):.3f} - {fnum(d, f'ab.{fig}.ratio_max'):.3f}] | "
                      f"{'pass' if r <= 1.02 else '**fail**'} |")
    print("\n## Tune runs\n")
    print("| run | seconds | summary |\n|---|---|---|")
    for k, v in sorted(tune.items()):
        if k.endswith(".s"):
            name = k[5:-2]
            print(f"| {name} | {v} | {tune.get(f'tune.{name}.summary', '')} |")
    first = models[0]
    cmp = f"{out}/compare.txt"
    if os.path.exists(cmp):
        print(f"\n## Two tunes of {first}, their records timed side by side (goal: within 3%)\n")
        print("| kernel | heuristic ms | run 1 ms | run 2 ms | run 2 / run 1 |\n|---|---|---|---|---|")
        for line in open(cmp):
            d = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
            if line.startswith("compare kernel="):
                h, a, b = (float(d[k]) for k in ("heuristic_ms", "f1_ms", "f2_ms"))
                if h >= 0.01:
                    print(f"| {d['kernel']} | {h:.3f} | {a:.3f} | {b:.3f} | {b / a if a else 1:.3f} |")
            elif line.startswith("compare total"):
                f1, f2 = float(d["f1"]), float(d["f2"])
                print(f"| all (weighted, of the heuristic's) | 1 | {f1:.4f} | {f2:.4f} | {f2 / f1:.4f} "
                      f"{'pass' if abs(f2 / f1 - 1) <= 0.03 else '**fail**'} |")
    sweep = f"{out}/sweep.txt"
    if os.path.exists(sweep):
        print(f"\n## Exhaustive sweep of {first}'s largest GEMMs (tuned ms over the sweep's best; goal <= 1.03)\n")
        print("| kernel | records | heuristic ms | tuned ms | sweep best ms | tuned/best |\n|---|---|---|---|---|---|")
        for line in open(sweep):
            if not line.startswith("sweep "):
                continue
            d = dict(f.split("=", 1) for f in line.split()[1:])
            t, b = float(d.get("tuned_ms", "nan")), float(d["best_ms"])
            print(f"| {d['kernel']} | {d['records']} | {float(d['heuristic_ms']):.3f} | {t:.3f} | {b:.3f} | "
                  f"{t / b:.3f} {'pass' if t / b <= 1.03 else '**fail**'} |")
    print("\n## Gains per kernel kind (records: ms against the heuristic's default_ms, summed)\n")
    print("| model | kind | kernels | improved | default ms | tuned ms | ratio |\n|---|---|---|---|---|---|---|")
    for m in models:
        p = f"{work}/{m}.tuning.json"
        if not os.path.exists(p):
            continue
        agg = {}
        for r in json.load(open(p))["records"]:
            a = agg.setdefault(kind(r["kernel"]), [0, 0, 0.0, 0.0])
            a[0] += 1
            a[1] += r["ms"] < r["default_ms"]
            a[2] += r["default_ms"]
            a[3] += r["ms"]
        for k, (n, imp, d, t) in sorted(agg.items(), key=lambda x: -x[1][2]):
            print(f"| {m} | {k} | {n} | {imp} | {d:.2f} | {t:.2f} | {t / d if d else 1:.3f} |")


if __name__ == "__main__":
    main()
