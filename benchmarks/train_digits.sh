#!/usr/bin/env bash
# The digits figures of docs/train.md: CoHiClust and CC on scikit-learn's digits (CPU), on 1 process and on 2
# processes under torchrun (gloo), with the default --augment batch, plus --augment paper on 1 process.
# One torch thread per process (OMP_NUM_THREADS=1, torchrun's default too). Prints one table row per run:
# per-epoch wall and CPU seconds (medians over the run's epochs, rank 0's for 2 processes) and the metrics.
# Usage: bash benchmarks/train_digits.sh [OUT_DIR]   (about 10 minutes per run on 2 idle cores)
set -euo pipefail
out="$(realpath -m "${1:-$(mktemp -d)}")"
mkdir -p "$out"
export OMP_NUM_THREADS=1
l2h_bin="$(command -v l2h)"
for model in cohiclust cc; do
  l2h train "$model" --dataset digits --out "$out/${model}_1p" --device cpu --quiet
  python -m torch.distributed.run --standalone --nproc_per_node 2 "$l2h_bin" train "$model" --dataset digits \
    --out "$out/${model}_2p" --device cpu --quiet
  l2h train "$model" --dataset digits --augment paper --out "$out/${model}_paper" --device cpu --quiet
done
python - "$out" <<'PY'
import csv, json, statistics, sys
out = sys.argv[1]
print("| model | augment | processes | s/epoch wall | s/epoch CPU | ACC | NMI | ARI | DP | LHD |")
print("|---|---|---|---|---|---|---|---|---|---|")
for model in ("cohiclust", "cc"):
    for tag, augment, procs in (("1p", "batch", 1), ("2p", "batch", 2), ("paper", "paper", 1)):
        run = f"{out}/{model}_{tag}"
        rows = list(csv.DictReader(open(f"{run}/history.csv")))
        wall = statistics.median(float(r["seconds"]) for r in rows)
        cpu = statistics.median(float(r["cpu_seconds"]) for r in rows)
        m = json.load(open(f"{run}/metrics.json"))
        scores = " | ".join(f"{m[k]:.3f}" for k in ("acc", "nmi", "ari", "dp", "lhd"))
        print(f"| {model} | {augment} | {procs} | {wall:.2f} | {cpu:.2f} | {scores} |")
PY
