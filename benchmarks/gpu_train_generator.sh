#!/usr/bin/env bash
# Issue 8 on a lent GPU (an H200): three wallpaper recipes trained at once on the one GPU by
# scripts/train_generator.py, the script of rule train_generator, each in resumable segments whose
# weights and cards are kept as snapshots (no Inception there: fid_samples 0; FID is measured after, on
# the CPU, by resuming the run: its state.pt comes back).
#
#   benchmarks/gpu_train_generator.sh OUT        (results/datasets/wallpaper must exist: the full dataset,
#                                                 or its compact copy, scripts/compact_style_dataset.py)
# Recipe D is A with the fine-tune overrides of the bundled model's last CPU run, read from config/bundled/
# generator-wallpaper.yaml: a D warm-up against the frozen painter, a G learning-rate ramp, the EMA
# starting at the trained painter, and a D regularised by lazy R1 instead of spectral normalisation.
# For a run of hours: RUNS=D SEGMENTS="30 60 90 120" ... OUT.
# Env: RUNS (which recipes, default "A B C"), SEGMENTS (cumulative training minutes, default "2.5 5 7.5"),
# EXTRA (flags for every run).
set -u
OUT=${1:?OUT folder}
SEGMENTS=${SEGMENTS:-2.5 5 7.5}
RUNS=${RUNS:-A B C}
PY=${PY:-python3}
mkdir -p "$OUT"
COMMON=(--preset gpu-cips-wide --data results/datasets/wallpaper
    --init-from resources/models/generator-wallpaper.safetensors
    --threads 4 --no-progress --set fid_samples=0 --set fid_every=0)
declare -A RECIPE=(
    [A]=""
    [B]="--batch-size 1024 --epoch-images 131072"
    [C]='--set ngf=20 --set g_options={"hidden":160,"mlp_layers":3,"n_freq":64,"offset_range":6.0}'
    [D]="$($PY -c 'import json, yaml
o = yaml.safe_load(open("config/bundled/generator-wallpaper.yaml"))["train_generator"]["overrides"]
print(" ".join(f"--set {k}={json.dumps(v)}" for k, v in o.items()))')"
)

train() {
    local name=$1 dir=results/gpu/$1 m
    mkdir -p "$dir/snapshots"
    for m in $SEGMENTS; do
        # shellcheck disable=SC2086
        $PY scripts/train_generator.py "${COMMON[@]}" ${RECIPE[$name]} ${EXTRA:-} --max-minutes "$m" \
            --out "$dir/generator-wallpaper.safetensors" --log "$dir/train.log" >>"$dir/stdout.log" 2>&1 ||
            echo "$name: segment $m failed (rc $?)" >>"$dir/stdout.log"
        cp "$dir/generator-wallpaper.safetensors" "$dir/snapshots/$m.safetensors" 2>/dev/null
        cp "$dir/generator-wallpaper.json" "$dir/snapshots/$m.json" 2>/dev/null
        last=$(ls "$dir/generator-wallpaper.train/samples" 2>/dev/null | tail -n 1)
        tar czf "$OUT/$name.tgz.part" -C "$dir" snapshots train.log stdout.log \
            generator-wallpaper.train/metrics.jsonl generator-wallpaper.train/losses.png \
            ${last:+generator-wallpaper.train/samples/$last} 2>/dev/null
        mv "$OUT/$name.tgz.part" "$OUT/$name.tgz"
        cp "$dir/generator-wallpaper.train/state.pt" "$OUT/$name.state.pt.part" 2>/dev/null &&
            mv "$OUT/$name.state.pt.part" "$OUT/$name.state.pt"
        echo "$(date +%T) $name: segment $m done" >>"$OUT/progress.log"
    done
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >>"$OUT/progress.log" 2>&1
for name in $RUNS; do train "$name" & done
sleep 90 && nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv >>"$OUT/progress.log" 2>&1 &
wait
