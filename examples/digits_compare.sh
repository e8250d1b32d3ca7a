#!/usr/bin/env bash
# How close do learned trees of the digits come to a small hand-written taxonomy (`l2h compare`)?
#
# Three trees, each against examples/digits_taxonomy.nwk (digits grouped by shape):
#   * L2H over the shipped 20-cluster Gaussian mixture's logits (leaves = clusters: each takes its
#     majority digit, and the taxonomy is expanded so that each digit holds its clusters);
#   * Ward over the same whitened PCA-30 features, cut into 20 clusters (`l2h agglomerative`);
#   * L2H over a logistic-regression classifier's logits (leaves = the 10 classes), trained on one
#     half of the digits and applied to the other half;
# and the mean of 100 random binary trees on the same leaves, so that each number has a scale.
# Needs l2h and scikit-learn.
#
#   bash examples/digits_compare.sh [OUTPUT_DIR]      # default: a fresh temporary folder
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:-$(mktemp -d)}"
PYTHON="${PYTHON:-python}"
mkdir -p "$OUT"
echo "writing to $OUT" >&2

# 1. Features (whitened PCA-30, as in make_digits_logits.py) and the classifier's held-out logits.
"$PYTHON" - "$OUT" <<'PY'
import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

out = Path(sys.argv[1])
digits = load_digits()
features = PCA(n_components=30, whiten=True, random_state=0).fit_transform(digits.data)
np.save(out / "digits_pca30.npy", features.astype(np.float32))
x_train, x_test, y_train, y_test = train_test_split(
    features, digits.target, test_size=0.5, stratify=digits.target, random_state=0
)
classifier = LogisticRegression(max_iter=2000).fit(x_train, y_train)
np.save(out / "lr_logits.npy", classifier.decision_function(x_test).astype(np.float32))
np.save(out / "lr_labels.npy", y_test.astype(np.int64))
print(f"logistic regression: held-out accuracy {classifier.score(x_test, y_test):.3f}", file=sys.stderr)
PY

TAXONOMY="$HERE/digits_taxonomy.nwk"

# 2. The trees.
l2h build "$HERE/digits_logits.npy" --out "$OUT/gmm_l2h.nwk" -q
l2h agglomerative "$OUT/digits_pca30.npy" --clusters 20 --out "$OUT/ward.nwk" --assignments-out "$OUT/ward_leaves.npy" -q
l2h build "$OUT/lr_logits.npy" --out "$OUT/lr_l2h.nwk" -q

# 3. Compared with the taxonomy (each with 100 random trees; the Ward tree next to the GMM's).
l2h compare "$OUT/gmm_l2h.nwk" --reference "$TAXONOMY" \
    --logits "$HERE/digits_logits.npy" --labels "$HERE/digits_labels.npy" \
    --baseline-tree "$OUT/ward.nwk" --baseline-assignments "$OUT/ward_leaves.npy" \
    --random-baseline 100 --json > "$OUT/gmm_compare.json"
# the classifier's leaf j is digit j: said with --leaves-are-classes (numbers alone are never matched)
l2h compare "$OUT/lr_l2h.nwk" --reference "$TAXONOMY" --leaves-are-classes --random-baseline 100 --json \
    > "$OUT/lr_compare.json"
l2h compare "$OUT/lr_l2h.nwk" --reference "$TAXONOMY" --leaves-are-classes   # the table, as a user sees it

# 4. One Markdown table (the one in docs/compare.md).
"$PYTHON" - "$OUT/gmm_compare.json" "$OUT/lr_compare.json" <<'PY'
import json
import sys

gmm, lr = (json.load(open(path)) for path in sys.argv[1:3])
rows = [
    ("L2H on GMM logits", "20 clusters", gmm),
    ("Ward on PCA-30", "20 clusters", gmm["baseline_tree"]),
    ("random binary trees (mean of 100)", "20 clusters", gmm["random_baseline"]),
    ("L2H on logistic-regression logits", "10 classes", lr),
    ("random binary trees (mean of 100)", "10 classes", lr["random_baseline"]),
]
keys = ["cophenetic_pearson", "cophenetic_spearman", "triplet_agreement", "rf_learned_only", "rf_reference_only"]
head = ["cophenetic Pearson", "cophenetic Spearman", "triplets", "RF learned only ↓", "RF reference only ↓"]
print("| tree | leaves | " + " | ".join(head) + " | NMI, depth 1 (3 groups) | ACC, depth 1 |")
print("|---|---|" + "---:|" * (len(head) + 2))
for name, leaves, s in rows:
    cells = [f"{s[k]:.3f}" for k in keys] + [f"{s['levels']['1'][m]:.3f}" for m in ("nmi", "acc")]
    print(f"| {name} | {leaves} | " + " | ".join(cells) + " |")
PY
