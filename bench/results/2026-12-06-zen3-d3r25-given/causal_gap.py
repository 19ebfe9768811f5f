# causal_gap.py: where the top-k -> causal (p > 0) gap of a MoD model comes from, on held-out text.
# Each routed layer decides by a rule (top-k, the predictor, or the predictor in one layer only and top-k
# elsewhere, or only its false positives / negatives); blocks run through train_mod.py's masked causal
# path, so every rule is one causal model.  CPU, float32, Debian's torch with OpenBLAS.
#   python3 causal_gap.py --weights W.safetensors --routed 1,2,3,5,6,7,9,10,11 --text test.bin --windows 256
import argparse, sys, time, math, torch, torch.nn.functional as F
sys.path.insert(0, __import__('os').path.join(__import__('os').path.dirname(__import__('os').path.abspath(__file__)), '../../../examples/train'))
import train_mod as TM, reference as R
torch.set_default_dtype(torch.float32)
torch.set_num_threads(2)
ap = argparse.ArgumentParser()
ap.add_argument('--weights'); ap.add_argument('--routed'); ap.add_argument('--text')
ap.add_argument('--windows', type=int, default=64); ap.add_argument('--mode', default='all')
a = ap.parse_args()
cfg = argparse.Namespace(d_model=256, layers=12, heads=4, kv_heads=2, d_ff=640, routed=a.routed,
    routing='every_other', capacity=0.25, predictor='mlp', predictor_hidden=64)
TM.configure(cfg)
model = TM.MoDModel()
w = R.load_safetensors_f64(a.weights)
with torch.no_grad():
    for n, p in TM.hf_state_dict(model).items(): p.copy_(w[n].float())
model.eval()
data = open(a.text, 'rb').read()
T = 256
nw = min(a.windows, len(data) // T)
X = torch.tensor(list(data[:nw * T]), dtype=torch.long).view(nw, T)

def run(decide, X):
    """decide(li, layer, h, r, p, topk_mask) -> taken bool [B,T]; returns mean NLL, stats"""
    B, T = X.shape
    h = model.embed_tokens(X).float()
    pos = torch.arange(T).expand(B, T)
    st = []
    for li, layer in enumerate(model.layers):
        if not layer.routed:
            h = h + layer.block(h, pos); continue
        r = h @ layer.router.weight.float()[0]
        k = TM.capacity_k(0.25, T)
        top = torch.zeros_like(r, dtype=torch.bool).scatter_(1, r.topk(k, dim=1).indices, True)
        p = layer.predictor(h)
        taken = decide(li, layer, h, r, p, top)
        i = torch.arange(T)
        mask = (i[None, :, None] >= i[None, None, :]) & taken[:, None, :]
        mask = mask | torch.eye(T, dtype=torch.bool)[None]
        upd = h + r[..., None] * layer.block(h, pos, mask)
        h = torch.where(taken[..., None], upd, h)
        st.append((li, taken.float().mean().item(), (taken & ~top).float().mean().item(), (~taken & top).float().mean().item()))
    logits = model.lm_head(model.norm(h)).float()
    nll = F.cross_entropy(logits[:, :-1].reshape(-1, 256), X[:, 1:].reshape(-1)).item()
    return nll, st

rules = {
  'topk': lambda li, L, h, r, p, top: top,
  'pred': lambda li, L, h, r, p, top: p > 0,
}
routed = [int(x) for x in a.routed.split(',')]
for l in routed:   # the gap of each layer alone: predictor there, top-k elsewhere
    rules[f'pred@{l}'] = (lambda l: lambda li, L, h, r, p, top: (p > 0) if li == l else top)(l)
# false negatives only (take what top-k takes, plus predictor's extras) and false positives only
rules['pred|top'] = lambda li, L, h, r, p, top: (p > 0) | top
rules['pred&top'] = lambda li, L, h, r, p, top: (p > 0) & top
with torch.no_grad():
    for name, fn in rules.items():
        if a.mode != 'all' and not name.startswith(a.mode): continue
        t = time.time(); nll, st = run(fn, X)
        print(f'{name:10s} nll {nll:.5f}  take {" ".join("%.3f" % s[1] for s in st)}  fp {sum(s[2] for s in st)/len(st):.4f} fn {sum(s[3] for s in st)/len(st):.4f}  [{time.time()-t:.1f}s]', flush=True)
