#!/usr/bin/env bash
# scikit-learn's digits end to end: a flat model's logits -> `l2h build` -> `l2h metrics`, next to the
# Ward baseline (`l2h agglomerative`) on the same features, scored the same way.
#
# The flat model is the 20-component Gaussian mixture of examples/make_digits_logits.py, fitted on the
# whitened 30-dimensional PCA of the digits; Ward clusters that same PCA into the same 20 clusters.
# Needs l2h and scikit-learn (for the PCA; `pip install -e ".[test]"`).
#
#   bash examples/digits_end_to_end.sh [OUTPUT_DIR]      # default: a fresh temporary folder
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:-$(mktemp -d)}"
PYTHON="${PYTHON:-python}"
mkdir -p "$OUT"
echo "writing to $OUT" >&2

# 1. The features both models see: whitened PCA-30 of the digits (as in make_digits_logits.py).
"$PYTHON" - "$OUT/digits_pca30.npy" <<'EOF'
import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

features = PCA(n_components=30, whiten=True, random_state=0).fit_transform(load_digits().data)
np.save(sys.argv[1], features.astype(np.float32))
EOF

COMMON=(--labels "$HERE/digits_labels.npy" --class-names "$HERE/digits_class_names.txt" --k 10,5,2)

# 2. L2H: the tree of the mixture's 20 clusters, from its logits alone; then its scores.
l2h build "$HERE/digits_logits.npy" --out "$OUT/l2h_tree.nwk" -q
l2h metrics "$OUT/l2h_tree.nwk" --logits "$HERE/digits_logits.npy" "${COMMON[@]}" \
    --class-distances "$OUT/l2h_class_distances.csv"
l2h metrics "$OUT/l2h_tree.nwk" --logits "$HERE/digits_logits.npy" "${COMMON[@]}" --json \
    > "$OUT/l2h_metrics.json"

# 3. Ward baseline: 20 clusters of the same features and the tree over them; the same scores.
l2h agglomerative "$OUT/digits_pca30.npy" --clusters 20 --out "$OUT/ward_tree.nwk" \
    --assignments-out "$OUT/ward_assignments.npy" -q
l2h metrics "$OUT/ward_tree.nwk" --assignments "$OUT/ward_assignments.npy" "${COMMON[@]}" --json \
    > "$OUT/ward_metrics.json"

# 4. Side by side, as a Markdown table (the one in docs/metrics.md).
"$PYTHON" - "$OUT/l2h_metrics.json" "$OUT/ward_metrics.json" <<'EOF'
import json
import sys

runs = {"L2H on GMM logits": json.load(open(sys.argv[1])), "Ward on PCA-30": json.load(open(sys.argv[2]))}
columns = ["NMI", "ARI", "ACC", "LP", "DP", "LHD ↓", "mean path ↓", "NMI@10", "ACC@10", "NMI@5", "ACC@5"]


def cells(s):
    head = [s[k] for k in ("nmi", "ari", "acc", "lp", "dp", "lhd", "mean_path_length")]
    levels = [s["levels"][k][m] for k in ("10", "5") for m in ("nmi", "acc")]
    return [f"{v:.3f}" for v in head + levels]


print("| tree (20 leaves, 1 797 digits) | " + " | ".join(columns) + " |")
print("|---|" + "---:|" * len(columns))
for name, scores in runs.items():
    print(f"| {name} | " + " | ".join(cells(scores)) + " |")
EOF
