#!/usr/bin/env bash
# The digits tree three ways: an iTOL bundle, a terminal view and a dendrogram picture.
#
#   bash examples/digits_itol_and_plot.sh [OUT_DIR]      (default: a fresh temporary folder)
#
# Needs `pip install ".[plot]"` for the pictures. The pictures of docs/gallery.md (examples/digits_tree.png,
# digits_gallery.png, digits_report.png, k1000_tree.png) come from examples/make_view_pictures.py.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:-$(mktemp -d)}"   # relative to where the script is run from, never inside the repository
mkdir -p "$OUT"
echo "writing to $OUT" >&2

# 1. The L2H tree over the GMM's 20 clusters.
l2h build "$HERE/digits_logits.npy" --out "$OUT/digits_tree.nwk" --quiet

DATA=(--logits "$HERE/digits_logits.npy" --labels "$HERE/digits_labels.npy"
      --class-names "$HERE/digits_class_names.txt")

# 2. A class -> group map (two columns, TAB-separated): digits by the shape of their strokes.
printf 'digit %s\tclosed loops\n' 0 6 8 9 >  "$OUT/digit_groups.tsv"
printf 'digit %s\tstraight strokes\n' 1 4 7 >> "$OUT/digit_groups.tsv"
printf 'digit %s\topen curves\n' 2 3 5 >> "$OUT/digit_groups.tsv"

# 3. iTOL bundle: upload $OUT/itol/tree.nwk, then drop the itol_*.txt files on the tree.
l2h export itol "$OUT/digits_tree.nwk" --out "$OUT/itol" "${DATA[@]}" --groups "$OUT/digit_groups.tsv"

# 4. The tree in the terminal (plain ASCII because it is piped).
l2h show "$OUT/digits_tree.nwk" "${DATA[@]}" | tee "$OUT/digits_tree.txt"

# 5. Pictures: leaves coloured by majority class, and the class-distance heatmap.
l2h plot "$OUT/digits_tree.nwk" "${DATA[@]}" --out "$OUT/digits_tree.png" --dpi 100 \
    --title "L2H tree of a 20-cluster GMM on digits" --class-distances "$OUT/digits_class_distances.png"
