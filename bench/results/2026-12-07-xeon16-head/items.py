import json, sys
# items.py BASE.json OUT.json ITEMS: the routed blocks' matmul records (norm_gather, add_gather, scatter_gate) with items = ITEMS
d = json.load(open(sys.argv[1])); n = 0
for r in d["records"]:
    if any(s in r["kernel"] for s in ("norm_gather", "add_gather", "scatter_gate")):
        r["schedule"]["items"] = int(sys.argv[3]); n += 1
assert n == 3, n
json.dump(d, open(sys.argv[2], "w"), indent=1)
