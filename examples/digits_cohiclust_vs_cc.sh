#!/usr/bin/env bash
# CoHiClust's native (pruned) tree vs the L2H tree built over CC's logits, on scikit-learn's digits (CPU).
# Needs the train extra: pip install "l2h[train]".  About a minute on 2 idle CPU cores (much longer when
# other processes keep the cores busy); deterministic on the CPU for one machine and library versions.
# The digits table of docs/train.md comes from benchmarks/train_digits.sh (one torch thread per process, 1 and 2 processes).
set -euo pipefail
out="${1:-runs/digits}"
mkdir -p "$out"

l2h train cohiclust --dataset digits --out "$out/cohiclust" --device cpu --seed 0
l2h train cc        --dataset digits --out "$out/cc"        --device cpu --seed 0

# CC's run folder already holds the L2H tree over its logits; the same one, by hand:
l2h build "$out/cc/logits.npy" --out "$out/cc/l2h_tree.nwk" --quiet

python - "$out" <<'PY'
import json, sys
out = sys.argv[1]
rows = [("CoHiClust, native tree", f"{out}/cohiclust/metrics.json"), ("CC + L2H tree", f"{out}/cc/metrics.json")]
print("| model | leaves | ACC | NMI | ARI | DP | LHD |")
print("|---|---|---|---|---|---|---|")
for name, path in rows:
    m = json.load(open(path))
    print(f"| {name} | {m['n_leaves']} | " + " | ".join(f"{m[k]:.3f}" for k in ("acc", "nmi", "ari", "dp", "lhd")) + " |")
PY
