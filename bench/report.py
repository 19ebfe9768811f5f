#!/usr/bin/env python3
"""report.py: bench/run.sh's key=value results -> report.md and the capacity sweep's data.

usage: report.py KVDIR OUT.md DATA.dat

KVDIR holds the files run.sh writes: dense.kv, mod.kv (modc bench, f32), dense_bf16.kv,
mod_bf16.kv, modcal.kv (calibrated router), densecal.kv (dense decode beside it), modfwd_vs.kv
and modcal_vs.kv (MoD's forward and the calibrated decode against dense12's in one process:
pair.mod_ms, pair.dense_ms), compile.kv, dnnl_dense.kv, dnnl_mod.kv, torch_dense.kv,
torch_mod.kv, llama_<dt>.kv (llama-bench, dt f32 or bf16) with llamaside_<dt>.kv (modc bench
beside it, 512-token prefill), llama_check_<dt>.kv, llama_env.kv (whether the peer was built),
sweep_<C>.kv and sweepcal_<C>.kv, env.kv.  The machine's peak and bandwidth are the ones each
modc bench measured (or read from its cache) and wrote to its kv.  A missing file
(a peer not installed) leaves its rows out with a note.  A modc bench run several times
writes NAME.r1.kv, NAME.r2.kv, ...: they merge into NAME, each section (forward, prefill,
decode) taken whole from the round where it was fastest (other work on the cores only ever
inflates a time), with NAME's "<section>.rounds" and "<section>.spread" (slowest / fastest).
Standard library only.
"""
import glob
import os
import re
import sys

SECTIONS = ("forward", "prefill", "decode")


def load(path):
    out = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    for conv in (int, float, str):
                        try:
                            out[k] = conv(v)
                            break
                        except ValueError:
                            pass
    return out


def merge_rounds(kv):
    """NAME.rN entries -> NAME: per section, the keys of the fastest round; returns the
    rounds too, {NAME: [round 1, round 2, ...]}"""
    rounds = {}
    for name in sorted(kv, key=lambda n: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", n)]):
        m = re.match(r"^(.*)\.r(\d+)$", name)
        if m:
            rounds.setdefault(m.group(1), []).append(kv.pop(name))
    for name, rs in rounds.items():
        out = dict(rs[0])
        for sec in SECTIONS:
            timed = [r for r in rs if isinstance(r.get(sec + ".ms"), (int, float))]
            if not timed:
                continue
            best = min(timed, key=lambda r: r[sec + ".ms"])
            out = {k: v for k, v in out.items() if not k.startswith(sec + ".")}
            out.update({k: v for k, v in best.items() if k.startswith(sec + ".")})
            ms = [r[sec + ".ms"] for r in timed]
            out[sec + ".rounds"] = len(ms)
            out[sec + ".spread"] = max(ms) / min(ms)
        out["load_average"] = max((r.get("load_average", 0) for r in rs if isinstance(r.get("load_average"), float)),
                                  default=out.get("load_average"))
        kv[name] = out
    return kv, rounds


def llama_best(kv):
    """llama-bench's figure for each test: the better of flash attention off and on"""
    for test in ("pp512", "tg128"):
        fa = [(kv[k], k) for k in ("llama.%s.fa0.tps" % test, "llama.%s.fa1.tps" % test)
              if isinstance(kv.get(k), (int, float))]
        if fa:
            kv["llama.%s.tps" % test] = max(fa)[0]
    return kv


class Report:
    def __init__(self, kvdir):
        self.d = kvdir
        raw = {os.path.basename(p)[:-3]: load(p) for p in glob.glob(os.path.join(kvdir, "*.kv"))}
        raw = {k: llama_best(v) if k.startswith("llama_") else v for k, v in raw.items()}
        self.kv, self.rounds = merge_rounds(raw)
        self.rows, self.notes = [], []

    def get(self, f, key):
        return self.kv.get(f, {}).get(key)

    def per_round(self, name, key):
        """key's value in each round of name, in order (one value when it ran once)"""
        rs = self.rounds.get(name, [self.kv[name]] if name in self.kv else [])
        return [r.get(key) for r in rs]

    def goal_rounds(self, what, num, den, fmt_num, fmt_den, ratio_desc, op, target, note=""):
        """goal() on the ratio of num = (name, key) to den = (name, key) or a number, taken
        round by round (run.sh interleaves the rounds, so round N of each was measured side by
        side); the row shows the round at the upper median ratio and lists every round's; op None:
        an info row (no goal), the median round"""
        a = self.per_round(*num)
        b = self.per_round(*den) if isinstance(den, tuple) else [den]
        n = max(len(a), len(b))
        a, b = (a * n if len(a) == 1 else a), (b * n if len(b) == 1 else b)
        pairs = [(x, y) for x, y in zip(a, b) if isinstance(x, (int, float)) and isinstance(y, (int, float)) and y]
        if not pairs:
            if op is None:
                return self.info(what, None, None, ratio_desc, note)
            return self.goal(what, None, None, ratio_desc, op, target, note)
        if op == "within":  # the median distance from 1; of an even count, the farther of the middle two
            pairs.sort(key=lambda p: abs(p[0] / p[1] - 1))
        else:  # the median; of an even count, the middle one on the goal's bad side
            pairs.sort(key=lambda p: p[0] / p[1])
        x, y = pairs[len(pairs) // 2 if op in ("<=", "within") else (len(pairs) - 1) // 2]
        if len(pairs) > 1:
            note = (note + "; " if note else "") + "rounds: " + ", ".join(
                "%.3f" % r for r in sorted(p[0] / p[1] for p in pairs))
        if op is None:
            return self.info(what, (x, fmt_num), (y, fmt_den), ratio_desc, note)
        self.goal(what, (x, fmt_num), (y, fmt_den), ratio_desc, op, target, note)

    def goal(self, what, fig, ref, ratio_desc, op, target, note=""):
        """a target row: figure, reference, ratio fig/ref against target (op '<=' or '>=', or
        'within': the ratio in 1 +- target)"""
        want = "%s within 1 ± %g" % (ratio_desc, target) if op == "within" else "%s %s %g" % (ratio_desc, op, target)
        if fig is None or ref is None:
            self.rows.append((what, "not measured", "", "", want, "n/a", note))
            return
        r = fig[0] / ref[0]
        ok = abs(r - 1) <= target if op == "within" else r <= target if op == "<=" else r >= target
        self.rows.append((what, fig[1] % fig[0], ref[1] % ref[0], "%.3f" % r, want, "pass" if ok else "**fail**", note))

    def info(self, what, fig, ref, ratio_desc, note=""):
        """a row measured for information, with no goal of its own"""
        if fig is None or ref is None:
            self.rows.append((what, "not measured", "", "", "", "info", note))
            return
        self.rows.append((what, fig[1] % fig[0], ref[1] % ref[0], "%.3f" % (fig[0] / ref[0]), ratio_desc, "info",
                          note))

    def table(self):
        out = ["| what | figure | reference | ratio | goal | result | note |",
               "|---|---|---|---|---|---|---|"]
        out += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join(out)


def f(v, fmt):
    return None if v is None else (v, fmt)


def weights_where(R):
    """how run.sh had modc hold its weights (env weights_load)"""
    w = R.get("env", "weights_load")
    return {"copy": "copied into memory (MODC_WEIGHTS_LOAD=copy), as oneDNN's are",
            "map": "mapped from the file"}.get(w, "mapped from the file")


def take_for(R, ratio):
    """the take rate at which the random-router fit gives MoD / dense decode = ratio"""
    b, k, d = R.get("mod", "decode.fit_base_ms"), R.get("mod", "decode.fit_block_ms"), R.get("dense", "decode.ms")
    n = R.get("mod", "routed_layers")
    if not (b and k and d and n):
        return "?"
    return "%.2f" % max(0.0, (ratio * d - b) / (k * n))


def mod_vs_dense(R, what, pair, mod, dense, fmt, target, note, how, unit, sep_suffix=""):
    """a MoD goal: from run.sh's PAIR (MoD and dense12 in one process, pair.mod_ms / pair.dense_ms)
    when it ran, with the separate benches MOD / DENSE as an information row; else from those"""
    paired = pair in R.kv
    if paired:
        R.goal_rounds(what + ", paired in one process", (pair, "pair.mod_ms"), (pair, "pair.dense_ms"), fmt, fmt,
                      "MoD / dense", "<=", target, note + "; `modc bench --vs`, %s, the order alternating by round "
                      "(the medians of each round's %s)" % (how, unit))
    R.goal_rounds(what + sep_suffix + (", separate processes" if paired else ""), mod, dense, fmt, fmt, "MoD / dense",
                  None if paired else "<=", target,
                  note + ("; for information: the paired row above is the goal's" if paired else ""))


def goals(R):
    g = R.get
    R.goal_rounds("dense forward vs oneDNN sgemm (the same GEMMs alone)", ("dense", "forward.ms"),
                  ("dnnl_dense", "dnnl.forward.ms"), "modc %.1f ms", "oneDNN %.1f ms", "modc / oneDNN", "<=",
                  round(1 / 0.85, 3), "speed >= 0.85 of oneDNN's; oneDNN does only the GEMMs, modc also attention, "
                  "norms; weights %s" % weights_where(R))
    R.goal_rounds("dense forward, weights mapped, vs oneDNN sgemm", ("densemap", "forward.ms"),
                  ("dnnl_dense", "dnnl.forward.ms"), "modc %.1f ms", "oneDNN %.1f ms", "modc / oneDNN", None, None,
                  "modc_open's default: the weights file mapped (page cache), oneDNN's in malloc'd memory")
    mod_vs_dense(R, "MoD forward vs dense forward", "modfwd_vs", ("mod", "forward.ms"), ("dense", "forward.ms"),
                 "%.1f ms", 0.70, "top-k at capacity 0.125", "call by call", "calls")
    R.goal_rounds("dense decode weight bandwidth", ("dense", "decode.gbs"), g("dense", "dram_gbs"), "%.2f GB/s",
                  "DRAM %.0f GB/s", "share", ">=", 0.70,
                  "%.0f MB of weights per step" % (g("dense", "decode.weight_mb") or 0))
    cal_take = g("modcal", "decode.take_rate")
    cal_note = "router_bias calibrated so ~capacity take a block: take rate %s" % (
        "%.3f" % cal_take if cal_take is not None else "?")
    mod_vs_dense(R, "MoD decode vs dense decode, calibrated router", "modcal_vs", ("modcal", "decode.ms"),
                 ("densecal", "decode.ms") if "densecal" in R.kv else ("dense", "decode.ms"), "%.2f ms/step", 0.72,
                 cal_note, "step by step", "steps", " (measured)")
    bm, bd = g("mod", "decode.weight_mb"), g("dense", "decode.weight_mb")
    R.info("MoD decode vs dense decode, random router (measured)", f(g("mod", "decode.ms"), "%.2f ms/step"),
           f(g("dense", "decode.ms"), "%.2f ms/step"), "MoD / dense",
           "random weights: take rate %.3f, not capacity (0.72 needs <= %s by the fit); weight bytes ratio %s" % (
               g("mod", "decode.take_rate") or 0, take_for(R, 0.72), "%.3f" % (bm / bd) if bm and bd else "?"))
    R.goal_rounds("MoD decode vs dense decode, at take rate = capacity (fit, estimate)",
                  ("mod", "decode.at_capacity_ms"), ("dense", "decode.ms"), "%.2f ms/step", "%.2f ms/step",
                  "MoD / dense", "<=", 0.72,
                  "random-router steps fitted: %.2f ms + %.2f ms per block taken" % (
                      g("mod", "decode.fit_base_ms") or 0, g("mod", "decode.fit_block_ms") or 0))
    R.goal_rounds("bf16 decode vs f32 decode (dense)", ("dense_bf16", "decode.ms"), ("dense", "decode.ms"),
                  "%.2f ms/step", "%.2f ms/step", "bf16 / f32", "<=", 0.6, "")
    for model, name in (("dense", "dense"), ("mod", "MoD")):
        for v, label in (("eager", "eager default"), ("mkldnn-2t", "eager, Linear via oneDNN, 2 threads")):
            th = g("torch_" + model, "torch.%s.threads" % v)
            R.goal_rounds("PyTorch %s forward vs modc (%s)" % (label, name), ("torch_" + model, "torch.%s.ms" % v),
                          (model, "forward.ms"), "%.0f ms", "modc %.1f ms", "PyTorch / modc", ">=", 3,
                          "%s thread%s" % ("%d" % th if th else "?", "" if th == 1 else "s"))
    llama_goals(R)
    machine_goals(R)
    for m in ("dense12", "mod12"):
        R.goal("`modc compile` %s (f32, weight packing included)" % m, f(g("compile", "compile.%s.s" % m), "%.2f s"),
               (5.0, "%g s"), "time / 5 s", "<=", 1, "")


def machine_goals(R):
    """modc bench's calibrated peak and DRAM read against the independent probes run beside it"""
    R.goal_rounds("modc bench's f32 FMA peak vs bench/fma_pairs", ("calib", "peak_gflops"),
                  ("probe", "probe.fma_gflops"), "%.0f GFLOP/s", "fma_pairs %.0f GFLOP/s", "modc / probe", "within",
                  0.15, "the same thread count; fma_pairs pins its threads, modc's calibration does not")
    R.goal_rounds("modc bench's DRAM read vs bench/read_bw", ("calib", "dram_gbs"), ("probe", "probe.read_gbs"),
                  "%.1f GB/s", "read_bw %.1f GB/s", "modc / probe", "within", 0.15,
                  "read_bw: pinned threads, whole slices per pass, integer sums over 8x the last-level cache")


def llama_note(R, dt, test, matched=False):
    """why a llama.cpp row is missing, or its flash-attention settings and the logits check"""
    status = R.get("llama_env", "status")
    if "llama_" + dt not in R.kv:
        return "llama.cpp peer %s" % (status if status and status != "built" else "not measured")
    off, on = R.get("llama_" + dt, "llama.%s.fa0.tps" % test), R.get("llama_" + dt, "llama.%s.fa1.tps" % test)
    note = "llama.cpp better of -fa 0 / 1 (round 1: %s / %s tokens/s)" % (
        "%.1f" % off if off is not None else "-", "%.1f" % on if on is not None else "-")
    if test == "tg128" and matched:
        note += "; both decode 128 tokens from an empty context (modc after a 1-token prompt)"
    elif test == "tg128":
        note += "; modc decodes after its 512-token prefill, llama.cpp from an empty context"
    if R.get("env", "weights_load") == "copy":
        note += "; both hold their weights in memory (modc copy, llama.cpp --load-mode none)"
    err = R.get("llama_check_" + dt, "llama.check.rel_err")
    if err is not None:
        note += "; llama.cpp's logits vs modc's: rel err %.1e, argmax agrees %.1f%%" % (
            err, 100 * (R.get("llama_check_" + dt, "llama.check.argmax_agree") or 0))
    return note


def llama_goals(R):
    """modc against llama.cpp on the same dense weights, f32 and bf16, round by round"""
    for dt, decode_goal in (("f32", 1.1), ("bf16", 1.0)):
        side, peer = "llamaside_" + dt, "llama_" + dt
        R.goal_rounds("dense prefill of 512 tokens vs llama.cpp pp512 (%s)" % dt, (side, "prefill.tokens_per_s"),
                      (peer, "llama.pp512.tps"), "modc %.0f tokens/s", "llama.cpp %.0f tokens/s", "modc / llama.cpp",
                      ">=", 1.25, llama_note(R, dt, "pp512"))
        tg = "llamatg_" + dt if "llamatg_" + dt in R.kv else side   # modc's decode from a 1-token prompt
        R.goal_rounds("dense decode vs llama.cpp tg128 (%s)" % dt, (tg, "decode.tokens_per_s"),
                      (peer, "llama.tg128.tps"), "modc %.1f tokens/s", "llama.cpp %.1f tokens/s", "modc / llama.cpp",
                      ">=", decode_goal, llama_note(R, dt, "tg128", tg != side))


def details(R):
    g = R.get
    out = ["| model | forward ms (ms/token) | forward GFLOP/s (% of peak) | prefill GFLOP/s | decode ms/step | "
           "decode weight MB/step | decode GB/s (% of DRAM) | take rate (decode) | rounds: spread forward, decode |",
           "|---|---|---|---|---|---|---|---|---|"]
    for key, label in (("dense", "dense12 f32"), ("mod", "mod12 f32"), ("modcal", "mod12 f32, calibrated router"),
                       ("dense_bf16", "dense12 bf16"), ("mod_bf16", "mod12 bf16"),
                       ("modcal_bf16", "mod12 bf16, calibrated router")):
        if key not in R.kv:
            continue
        v = lambda k, fmt: fmt % g(key, k) if g(key, k) is not None else "-"
        out.append("| %s | %s (%s) | %s (%s%%) | %s | %s | %s | %s (%s%%) | %s | %s: %s, %s |" % (
            label, v("forward.ms", "%.1f"), v("forward.ms_per_token", "%.3f"), v("forward.gflops", "%.1f"),
            v("forward.peak_pct", "%.1f"), v("prefill.gflops", "%.1f"), v("decode.ms", "%.2f"),
            v("decode.weight_mb", "%.0f"), v("decode.gbs", "%.2f"), v("decode.dram_pct", "%.1f"),
            v("decode.take_rate", "%.3f"), v("decode.rounds", "%d"), v("forward.spread", "%.2f"),
            v("decode.spread", "%.2f")))
    return "\n".join(out)


def llama_peer(R):
    """llama-bench's figures, each test's fastest round, flash attention off and on"""
    out = []
    for dt in ("f32", "bf16"):
        rs = R.rounds.get("llama_" + dt, [R.kv["llama_" + dt]] if "llama_" + dt in R.kv else [])
        if not rs:
            continue
        best = lambda k: max((r[k] for r in rs if isinstance(r.get(k), (int, float))), default=None)
        fm = lambda v: "-" if v is None else "%.1f" % v
        figs = ", ".join("%s %s / %s" % (t, fm(best("llama.%s.fa0.tps" % t)), fm(best("llama.%s.fa1.tps" % t)))
                         for t in ("pp512", "tg128"))
        out.append("- llama.cpp %s (llama-bench, build %s; fastest of %d round%s), tokens/s with flash attention "
                   "off / on: %s" % (dt, rs[0].get("llama.build_commit", "?"), len(rs), "" if len(rs) == 1 else "s",
                                     figs))
    return out


def peers(R):
    g, out = R.get, []
    for m in ("dense", "mod"):
        if "dnnl_" + m in R.kv:
            out.append("- oneDNN sgemm, %s GEMMs: forward %.1f ms (%.1f GFLOP/s); decode-step GEMVs %.2f ms (%.2f GB/s)" % (
                m, g("dnnl_" + m, "dnnl.forward.ms"), g("dnnl_" + m, "dnnl.forward.gflops"),
                g("dnnl_" + m, "dnnl.decode.ms"), g("dnnl_" + m, "dnnl.decode.gbs")))
    for m in ("dense", "mod"):
        t = R.kv.get("torch_" + m)
        if not t:
            continue
        times = ", ".join("%s %.0f ms (%d thr)" % (k[6:-3], v, t.get(k[:-3] + ".threads", 0))
                          for k, v in t.items() if k.endswith(".ms") and k.startswith("torch."))
        out.append("- PyTorch, %s: %s" % (m, times))
        total = t.get("torch.check.routing_total", 0)
        routing = ("%d of %d routing decisions differ, " % (t.get("torch.check.routing_flips", -1), total)
                   if total else "")
        out.append("  - checked against modc on the same tokens: forward logits max rel err %.2e (argmax agrees %.1f%%); "
                   "session (prefill + decode, causal routing): %slast-logits rel err prefill %.2e, decode %.2e" % (
                       t.get("torch.check.forward_rel_err", float("nan")),
                       100 * t.get("torch.check.forward_argmax_agree", float("nan")), routing,
                       t.get("torch.check.prefill_rel_err", float("nan")),
                       t.get("torch.check.decode_rel_err", float("nan"))))
    out += llama_peer(R)
    if R.get("llama_env", "status") not in (None, "built"):
        out.append("- llama.cpp: %s" % R.get("llama_env", "status"))
    return "\n".join(out) if out else "- no peer installed (see bench/README.md)"


def sweep(R, datpath):
    g = R.get
    caps = sorted((k.split("_", 1)[1] for k in R.kv if k.startswith("sweep_")), key=float)
    rows = ["| capacity | forward ms/token | decode ms/step, random router (take rate) | decode at take = capacity, fit "
            "| decode ms/step, calibrated router (take rate) |", "|---|---|---|---|---|"]
    with open(datpath, "w") as dat:
        dat.write("# capacity fwd_ms_per_token dec_ms_random dec_ms_fit dec_ms_calibrated dense_fwd dense_dec\n")
        for c in caps:
            s, cal = "sweep_" + c, "sweepcal_" + c
            vals = [g(s, "forward.ms_per_token"), g(s, "decode.ms"), g(s, "decode.at_capacity_ms"),
                    g(cal, "decode.ms"), g("dense", "forward.ms_per_token"), g("dense", "decode.ms")]
            dat.write("%s %s\n" % (c, " ".join("NaN" if v is None else "%.6g" % v for v in vals)))
            fm = lambda v, fmt: fmt % v if v is not None else "-"
            rows.append("| %s | %s | %s (%s) | %s | %s (%s) |" % (
                c, fm(vals[0], "%.3f"), fm(vals[1], "%.2f"), fm(g(s, "decode.take_rate"), "%.3f"), fm(vals[2], "%.2f"),
                fm(vals[3], "%.2f"), fm(g(cal, "decode.take_rate"), "%.3f")))
    rows.append("| dense | %s | %s | | |" % ("%.3f" % g("dense", "forward.ms_per_token") if g("dense", "forward.ms_per_token") else "-",
                                            "%.2f" % g("dense", "decode.ms") if g("dense", "decode.ms") else "-"))
    return "\n".join(rows)


def machine(R):
    """the ceilings the modc benches compared with: measured by modc bench on this machine"""
    d = R.kv.get("dense", {})
    if "peak_gflops" not in d:
        return "Machine figures: not recorded."
    src = {"measured": "measured by modc bench in this run", "cached": "from modc bench's calibration cache",
           "given": "given on the command line"}
    return ("Machine figures (modc bench, %s threads): f32 FMA peak %.0f GFLOP/s (%s kernel, %s), DRAM read %.1f "
            "GB/s (%s)." % (d.get("threads", "?"), d["peak_gflops"], d.get("calibration_isa", "?"),
                            src.get(d.get("peak_source"), "source not recorded"), d.get("dram_gbs", 0),
                            src.get(d.get("dram_source"), "source not recorded")))


def load_note(R):
    """which modc bench runs started while other work was on the cores"""
    busy = ["%s %.2f" % (k, v["load_average"]) for k, v in sorted(R.kv.items())
            if isinstance(v.get("load_average"), float) and v["load_average"] > 1.2]
    if not busy:
        return "Every modc bench started with a 1-minute load average under 1.2."
    return ("**Noisy run**: these modc bench runs started with a 1-minute load average over 1.2 (other work on "
            "the cores; their times are inflated and ratios involving them are unreliable): " + ", ".join(busy) + ".")


def main():
    kvdir, out, dat = sys.argv[1:4]
    R = Report(kvdir)
    goals(R)
    env = R.kv.get("env", {})
    text = ["# modc benchmarks (the targets of issue 9)", "",
            "Measured in one run of `bench/run.sh` on %s, %s threads, %s. Ratios are between figures of this run "
            "only; absolute times vary between runs. %s" % (env.get("cpu", "?"), env.get("threads", "?"),
                                                          env.get("date", "?"), load_note(R)),
            "", machine(R), "", "## Targets", "", R.table(), "",
            "Random weights make the router fire for about half the tokens when decoding (r = h.w_router > 0), "
            "while a router trained with the BCE aux loss fires for about the capacity fraction. The decode goal "
            "(MoD / dense <= 0.72) is therefore measured with a calibrated router (`torch_model.py calibrate`: "
            "router_bias set per routed layer so that ~capacity of 512 calibration tokens take the block; every "
            "other weight unchanged) and estimated from the random-router steps by fitting step time against "
            "blocks taken. With the random router a decode step must read the blocks of about half the routed "
            "layers, so no kernel can reach 0.72 there (its row is for information: a step costs about the bytes "
            "it reads, a skipped block nothing). Each modc figure is the best of the rounds run (run.sh ROUNDS, "
            "interleaved; the spread column is slowest / fastest); other work on the cores only inflates times.",
            "", "## modc figures", "", details(R), "",
            "Forward and prefill GFLOP/s count matmul and attention FLOPs of what the model computes (routed "
            "blocks at their k rows); the peak is %s GFLOP/s and DRAM read %s GB/s. Decode weight bytes count every "
            "weight a step reads: dense blocks, a routed block only when the token took it, the routers, the lm "
            "head, one embedding row." % (R.get("dense", "peak_gflops"), R.get("dense", "dram_gbs")),
            "", "## Peers", "", peers(R), "",
            "## Capacity sweep", "", "mod12 compiled with `-D routing.capacity=C` (plot: capacity.png).", "",
            sweep(R, dat), ""]
    with open(out, "w") as fo:
        fo.write("\n".join(text))


if __name__ == "__main__":
    main()
