#!/usr/bin/env python3
"""peer_scaling.py: how far a tuned BLAS scales the same work from 1 to N threads.

Issue 9 asks modc's forward to run >= 12x faster on 16 threads than on one.  This is the
independent peer of that figure: the GEMMs of one modc_forward of SPEC (the shapes of
bench_dnnl.c: per layer q, k, v, o, gate, up, down at T rows, or k = ceil(capacity * T) rows
for a routed layer; then the lm head), each layer with its own weights so that they stream
as a model's do, run with torch.mm (MKL or oneDNN, whichever PyTorch was built with) at one
thread and at N, alternating round by round on the same machine in the same minute.  With
--forward, the whole eager forward of torch_model.py (attention, norms, routing) too, on the
spec's weights.

  peer_scaling.py SPEC [--threads N] [--rounds R] [--repeats P] [--forward] [--kv FILE]

Prints per round and, at the end, the medians as key=value lines:
  gemms.t1_ms, gemms.tN_ms, gemms.scaling     (t1 / tN), gemms.gflops_t1, gemms.gflops_tN
  forward.t1_ms, forward.tN_ms, forward.scaling   (with --forward)
N defaults to every CPU torch sees.  Read beside bench/parallel_ceiling.sh: the ceiling is
what work that shares nothing gets, this is what the best-tuned shared-memory GEMMs get.

Needs numpy, PyYAML and torch.
"""
import argparse
import math
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_model  # noqa: E402  (the spec reader and the eager forward)

torch.set_grad_enabled(False)


def gemm_shapes(spec):
    """(rows, out, in) of every GEMM of one forward, in order."""
    B, T = spec["shape"]
    d, f, V = spec["d"], spec["dff"], spec["V"]
    kv = spec["KVH"] * (d // spec["H"])
    out = []
    for l in range(spec["L"]):
        rows = T
        if spec["routed"][l]:
            rows = min(T, max(1, math.ceil(spec["cap"][l] * T)))
        rows *= B
        out += [(rows, d, d), (rows, kv, d), (rows, kv, d), (rows, d, d),
                (rows, f, d), (rows, f, d), (rows, d, f)]
    return out + [(B * T, V, d)]


class Gemms:
    def __init__(self, shapes, seed):
        g = torch.Generator().manual_seed(seed)
        self.shapes = shapes
        self.w = [torch.randn(n, k, generator=g) * 0.02 for _, n, k in shapes]
        self.x = {k: torch.randn(m, k, generator=g) for m, _, k in shapes}
        self.flops = sum(2.0 * m * n * k for m, n, k in shapes)

    def run(self):
        for (m, n, k), w in zip(self.shapes, self.w):
            torch.mm(self.x[k][:m], w.t())


def median_ms(fn, repeats):
    fn()  # warm-up
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("spec")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--forward", action="store_true", help="also the eager forward on the spec's weights")
    p.add_argument("--kv")
    a = p.parse_args()
    if a.threads < 2 or a.rounds < 1 or a.repeats < 1:
        p.error("--threads must be >= 2, --rounds and --repeats >= 1")
    spec = torch_model.load_spec(a.spec)
    gem = Gemms(gemm_shapes(spec), 1234)
    jobs = [("gemms", gem.run)]
    if a.forward:
        model = torch_model.Model(spec, torch_model.read_safetensors(spec["weights"]), "eager")
        B, T = spec["shape"]
        tokens = torch.randint(0, spec["V"], (B, T), generator=torch.Generator().manual_seed(7), dtype=torch.long)
        jobs.append(("forward", lambda: [model.forward(tokens[b]) for b in range(B)]))
    print("PyTorch %s (%s), %s: %d GEMMs, %.1f GFLOP a forward; 1 against %d threads, %d rounds, median of %d"
          % (torch.__version__, torch.backends.mkl.is_available() and "MKL" or "no MKL", spec["name"],
             len(gem.shapes), gem.flops / 1e9, a.threads, a.rounds, a.repeats), flush=True)
    res = {name: ([], []) for name, _ in jobs}
    for r in range(a.rounds):
        for name, fn in jobs:
            order = (1, a.threads) if r % 2 == 0 else (a.threads, 1)
            for t in order:
                torch.set_num_threads(t)
                res[name][t != 1].append(median_ms(fn, a.repeats))
            t1, tn = res[name][0][-1], res[name][1][-1]
            print("round %d %-7s 1 thread %9.2f ms  %d threads %8.2f ms  scaling %6.2fx"
                  % (r + 1, name, t1, a.threads, tn, t1 / tn), flush=True)
    lines = ["threads=%d" % a.threads]
    for name, (one, many) in res.items():
        t1, tn = statistics.median(one), statistics.median(many)
        scal = statistics.median([x / y for x, y in zip(one, many)])
        lines += ["%s.t1_ms=%.6g" % (name, t1), "%s.tN_ms=%.6g" % (name, tn), "%s.scaling=%.4g" % (name, scal)]
        if name == "gemms":
            lines += ["gemms.gflops_t1=%.5g" % (gem.flops / t1 / 1e6), "gemms.gflops_tN=%.5g" % (gem.flops / tn / 1e6)]
    print("\n".join(lines))
    if a.kv:
        with open(a.kv, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
