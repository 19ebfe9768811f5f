"""test_torch.py: modc.torch's reference module, exported and compiled, against PyTorch.

Random MoD models (routed layers with raw and sigmoid gates, router bias, router and mlp
predictors, thresholds, GQA, tied embeddings) are exported with modc.torch.export, compiled
with modc.compile and run through modc.load.  modc_forward must give PyTorch's top-k
logits (float64 reference) and a session's prefill its causal-mode last logits and routing
traces, within 1e-4 relative.  Inputs whose routing margin in the reference is a near-tie
(the k-th score gap, or |p - threshold|) below 1e-3 are redrawn, never compared loosely.

usage: python3 test_torch.py MODC SOURCE_DIR WORK_DIR
"""
import os
import shutil
import sys
import unittest

import numpy as np

MODC, SRC, WORK = sys.argv[1:4]
sys.path.insert(0, os.path.join(SRC, "python"))
import modc  # noqa: E402

try:
    import torch  # noqa: E402
    from modc.torch import Config, MoDModel, export, capacity_k  # noqa: E402
except ImportError as e:  # said loudly; ctest shows the test as not run (exit 77)
    print(f"NOT RUN: PyTorch is not importable ({e}); apt-get install python3-torch to run modc.torch's test")
    sys.exit(77)

MARGIN, TOL = 1e-3, 1e-4
CASES = [
    dict(vocab_size=61, d_model=32, n_layers=3, n_heads=4, n_kv_heads=2, d_ff=48, max_seq_len=32, routed=[1, 2],
         capacity=0.25, gate="raw", per_layer_threshold={2: 0.05}),
    dict(vocab_size=40, d_model=24, n_layers=2, n_heads=3, d_ff=20, max_seq_len=24, routed=[0, 1], capacity=0.5,
         gate="sigmoid", router_bias=True, predictor="mlp", predictor_hidden=6, tie_embeddings=True, threshold=-0.02),
]


def margins(model, tok, mode):
    """the smallest routing margin of the reference on tok [1, T]"""
    c, m = model.config, float("inf")
    h = model.embed_tokens(tok)
    T = tok.shape[1]
    pos = torch.arange(T)[None]
    causal = pos[:, :, None] >= pos[:, None, :]
    for i, layer in enumerate(model.layers):
        if hasattr(layer, "router"):
            r = layer.router(h)[..., 0]
            if mode == "topk":
                k = capacity_k(c.cap(i), T)
                s = r.sort(descending=True).values[0]
                if k < T:
                    m = min(m, float(s[k - 1] - s[k]))
                h, _ = model._topk(layer, h, r, c.cap(i))
            else:
                p = layer.predictor(h) if hasattr(layer, "predictor") else r
                m = min(m, float((p - c.thr(i)).abs().min()))
                h, _ = model._causal(layer, h, r, pos, causal, c.thr(i))
        else:
            h = layer.block(h, pos, causal)
    return m


def rel(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


class TestTorchExport(unittest.TestCase):
    def run_case(self, n, kw):
        torch.manual_seed(n)
        cfg = Config(**kw)
        model = MoDModel(cfg).double().eval()
        for p in model.parameters():  # larger than the default init, so routing and logits vary
            torch.nn.init.normal_(p, std=0.3)
        T = cfg.max_seq_len // 2
        d = os.path.join(WORK, f"case{n}")
        spec = export(model, d, f"case{n}", shapes=[(1, T)])
        lib = modc.compile(spec, os.path.join(d, f"libcase{n}.so"), modc=MODC)
        rng = np.random.default_rng(n)
        with modc.load(lib, threads=2) as m:
            for mode in ("topk", "causal"):
                for _ in range(40):
                    tok = torch.tensor(rng.integers(0, cfg.vocab_size, (1, T)))
                    with torch.no_grad():
                        if margins(model, tok, mode) >= MARGIN:
                            break
                else:
                    self.fail(f"case {n} {mode}: no input without a near-tie")
                trace = []
                with torch.no_grad():
                    want = model(tok, mode=mode, routing=trace).numpy()[0]
                if mode == "topk":
                    got = m.forward(tok.numpy().astype(np.int32))[0]
                    self.assertLess(rel(got, want), TOL, f"case {n}: forward logits")
                    continue
                with m.session() as s:
                    last = s.prefill(tok.numpy()[0])
                    self.assertLess(rel(last, want[-1]), TOL, f"case {n}: prefill logits")
                    for layer, taken in zip(cfg.routed, trace):
                        np.testing.assert_array_equal(s.routing(layer), taken.numpy()[0].astype(np.uint8),
                                                      f"case {n}: layer {layer} routing")

    def test_cases(self):
        shutil.rmtree(WORK, ignore_errors=True)
        for n, kw in enumerate(CASES):
            with self.subTest(case=n):
                self.run_case(n, kw)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
