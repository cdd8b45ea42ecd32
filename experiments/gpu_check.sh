#!/usr/bin/env bash
# The GPU path in one go (about 8 minutes on one GPU): every CUDA path lipbench has, the cost
# benchmark on CUDA, the bf16 / torch.compile ratios, and several runs sharing one GPU.
#
#   experiments/gpu_check.sh [OUT]                       # OUT defaults to results/gpu
#   GPU_CHECK_TINY=1 DEVICE=cpu experiments/gpu_check.sh /tmp/gpu   # tiny, on the CPU (the test)
#
# Steps (each one timed, limited by STEP_TIMEOUT seconds, and recorded in OUT/steps.tsv; a
# failed or skipped step never stops the next one; a summary is printed at the end):
#   env      torch, CUDA, the device's name and bf16 support -> OUT/env.txt
#   toy2d    none / clip / gp / sn on the 8-Gaussian ring (MLP 3x512)       -> OUT/toy2d/
#   digits   none / clip / gp / sn on digits 16x16 (half-width DCGAN)       -> OUT/digits/
#   cifar10  experiment=cifar10_sngan (clip / gp / sn, SN-GAN's standard CNN) for a few hundred
#            iterations on the JPEG copy of CIFAR-10                         -> OUT/cifar10/
#            CIFAR10_ROOT (default data/cifar10-jpeg.tar.gz: copy ../shared/data/cifar10-jpeg.tar.gz
#            into the repository's ignored data/ folder and carry it); missing -> skipped.
#            INCEPTION_WEIGHTS=/path/to/weights-inception-2015-12-05-6726825d.pth adds Inception FID.
#   cost     experiments/cost.py on DEVICE (table + scaling)                 -> OUT/cost/
#   options  experiments/cost.py --sections options: bf16 and compile vs fp32 eager -> OUT/options/
#   share    the same 2-D gp run as 1, 2, 4, 8 joblib jobs on one device: throughput vs one run
#                                                                            -> OUT/share.md/.csv
# GPU_CHECK_STEPS="env toy2d ..." runs a subset. Needs lipbench's dependencies importable by
# $PYTHON (default: python); run it from the repository root. On a device machine whose $OUT
# keeps few files, archive the folder: experiments/gpu_check.sh /tmp/gpu; tar czf $OUT/gpu.tgz -C /tmp gpu
set -uo pipefail

if [ "${1:-}" = --step ]; then ONLY=$3; OUT=$2; else ONLY=; OUT=${1:-results/gpu}; fi  # --step: one step (internal)
DEVICE=${DEVICE:-cuda}
TINY=${GPU_CHECK_TINY:-0}
PY=${PYTHON:-python}
CIFAR=${CIFAR10_ROOT:-data/cifar10-jpeg.tar.gz}
STEPS=${GPU_CHECK_STEPS:-env toy2d digits cifar10 cost options share}
WORK=${GPU_CHECK_WORK:-${TMPDIR:-/tmp}/lipbench_gpu_check}  # run dirs and checkpoints: not results
THREADS=${THREADS:-4}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 MPLBACKEND=Agg
mkdir -p "$OUT" "$WORK"

if [ "$TINY" = 1 ]; then  # seconds per step on a CPU: the same commands, tiny sizes
  STEP_TIMEOUT=${STEP_TIMEOUT:-240}
  ITER_2D=4; ITER_IMG=2; ITER_CIFAR=2; ITER_SHARE=4; SHARE_JOBS="1 2"; WIDTH_2D=16; IMG_WIDTH=4
  EVAL_2D=(eval.n_samples=200 eval.w1_samples=100 eval.grad_samples=16 eval.surface_resolution=8)
  EVAL_IMG=(eval.fid_samples=60 eval.fid_samples_during=60 eval.kid_subset_size=30 eval.grad_samples=16
            eval.fidelity_batch_size=60)
  CIFAR_DATA=(data.max_images=400)
  COST_ARGS=(--tiny --critics mlp --constraints none,gp,sn)
  OPTION_ARGS=(--tiny --option-critics mlp --option-methods none,gp --variants fp32,bf16)
else
  STEP_TIMEOUT=${STEP_TIMEOUT:-180}
  ITER_2D=1000; ITER_IMG=800; ITER_CIFAR=300; ITER_SHARE=1000; SHARE_JOBS="1 2 4 8"; WIDTH_2D=512; IMG_WIDTH=32
  EVAL_2D=()
  EVAL_IMG=(eval.fid_samples=2000 eval.fid_samples_during=1000 eval.kid_subset_size=1000)
  CIFAR_DATA=(data.max_images=10000)
  COST_ARGS=(--cnn-width 64 --repeats 7 --block 3 --threads "$THREADS")
  OPTION_ARGS=(--cnn-width 64 --option-critics sngan_cnn --option-methods none,gp,sn --option-repeats 5 --block 3
               --threads "$THREADS")
fi
QUIET=(train.progress=false train.tensorboard=false "device=$DEVICE" hydra/launcher=basic)

record() {  # name status seconds note
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$OUT/steps.tsv"
  echo "== $1: $2 ($3 s) $4"
}

run_step() {  # name: this script again for that one step, under the step time limit, logged to OUT/<name>.log
  local name=$1 t0 rc
  t0=$(date +%s.%N)
  echo "== $name"
  timeout -k 10 "$STEP_TIMEOUT" bash "$0" --step "$OUT" "$name" >"$OUT/$name.log" 2>&1
  rc=$?
  tail -n 15 "$OUT/$name.log"
  local dt
  dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
  if [ $rc -eq 0 ]; then record "$name" ok "$dt" "log: $name.log"
  elif [ $rc -eq 124 ]; then record "$name" failed "$dt" "over STEP_TIMEOUT=${STEP_TIMEOUT}s; log: $name.log"
  else record "$name" failed "$dt" "exit $rc; log: $name.log"
  fi
}

sweep() {  # name overrides...: a lipbench sweep into WORK/<name>, its report copied to OUT/<name>
  local name=$1; shift
  rm -rf "${WORK:?}/$name"
  $PY -m lipbench.cli -m "name=gpu_$name" "hydra.sweep.dir=$WORK/$name" "${QUIET[@]}" "$@" || return
  rm -rf "${OUT:?}/$name"
  cp -r "$WORK/$name/report" "$OUT/$name"
  $PY - "$WORK/$name" <<'EOF'
import json, sys
from pathlib import Path
runs = [json.loads(p.read_text()) for p in sorted(Path(sys.argv[1]).glob("*/summary.json"))]
bad = [(r.get("method"), r.get("status"), r.get("error")) for r in runs if r.get("status") != "completed"]
print(f"{len(runs)} runs on {sorted({r.get('device') for r in runs})}; not completed: {bad or 'none'}")
sys.exit(1 if bad or not runs else 0)
EOF
}

step_env() {
  { $PY - <<'EOF'
import os, torch
print("torch", torch.__version__, "| cuda available:", torch.cuda.is_available(), "| cuda", torch.version.cuda)
if torch.cuda.is_available():
    i = torch.cuda.current_device()
    print("device:", torch.cuda.get_device_name(i), "| capability", torch.cuda.get_device_capability(i),
          "| bf16:", torch.cuda.is_bf16_supported(), "| memory GiB:",
          round(torch.cuda.get_device_properties(i).total_memory / 2**30, 1))
print("cpu cores:", os.cpu_count(), "| DEVICE =", os.environ.get("DEVICE", "cuda"))
EOF
    if command -v nvidia-smi >/dev/null; then nvidia-smi; fi; } | tee "$OUT/env.txt"
}

step_toy2d() {
  sweep toy2d data=eight_gaussians model=mlp "model.hidden=$WIDTH_2D" constraint=none,clip,gp,sn seed=0 \
    "train.iterations=$ITER_2D" "eval.every=$ITER_2D" "${EVAL_2D[@]}"
}

step_digits() {
  sweep digits data=digits model=dcgan "model.width=$IMG_WIDTH" constraint=none,clip,gp,sn seed=0 \
    train.batch_size=64 "train.iterations=$ITER_IMG" "eval.every=$ITER_IMG" "eval.extractors=[domain]" "${EVAL_IMG[@]}"
}

step_cifar10() {
  local extra=()
  [ -n "${INCEPTION_WEIGHTS:-}" ] && extra+=("eval.inception_weights=$INCEPTION_WEIGHTS")
  [ "$TINY" = 1 ] && extra+=("model.width=$IMG_WIDTH" "eval.extractors=[domain]")
  sweep cifar10 experiment=cifar10_sngan data=imagefolder "data.root=$CIFAR" "${CIFAR_DATA[@]}" \
    "train.iterations=$ITER_CIFAR" "eval.every=$ITER_CIFAR" "train.checkpoint_every=$ITER_CIFAR" \
    "${EVAL_IMG[@]}" "${extra[@]}"
}

step_cost() { $PY experiments/cost.py --out "$OUT/cost" --device "$DEVICE" --sections table,scaling "${COST_ARGS[@]}"; }

step_options() { $PY experiments/cost.py --out "$OUT/options" --device "$DEVICE" --sections options "${OPTION_ARGS[@]}"; }

step_share() {  # n runs of the same config at once (joblib, n_jobs = n) on one device
  local n seeds t0
  for n in $SHARE_JOBS; do
    seeds=$(seq -s, 0 $((n - 1)))
    rm -rf "${WORK:?}/share/n$n"
    t0=$(date +%s.%N)
    $PY -m lipbench.cli -m "name=gpu_share$n" "hydra.sweep.dir=$WORK/share/n$n" train.progress=false \
      train.tensorboard=false "device=$DEVICE" hydra/launcher=joblib "hydra.launcher.n_jobs=$n" train.threads=1 \
      +hydra.callbacks.report.enabled=false data=eight_gaussians model=mlp "model.hidden=$WIDTH_2D" constraint=gp \
      "seed=$seeds" "train.iterations=$ITER_SHARE" eval.every=0 "${EVAL_2D[@]}" || return
    awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.3f\n", b-a}' >"$WORK/share/n$n/wall_s"
  done
  $PY - "$WORK/share" "$OUT" <<'EOF'
import csv, json, sys
from pathlib import Path
share, out = Path(sys.argv[1]), Path(sys.argv[2])
rows = []
for d in sorted(share.glob("n*"), key=lambda p: int(p.name[1:])):
    runs = [json.loads(p.read_text()) for p in d.glob("*/summary.json")]
    wall = float((d / "wall_s").read_text())
    rows.append({"jobs": int(d.name[1:]), "runs_completed": sum(r["status"] == "completed" for r in runs),
                 "sum_it_per_s": sum(r.get("it_per_s") or 0 for r in runs),
                 "wall_s": wall, "wall_it_per_s": sum(r.get("step") or 0 for r in runs) / wall})
for r in rows:
    r["throughput_x_one"] = r["sum_it_per_s"] / rows[0]["sum_it_per_s"]
    r["wall_throughput_x_one"] = r["wall_it_per_s"] / rows[0]["wall_it_per_s"]
with open(out / "share.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
lines = ["| jobs | completed | sum of it/s | × one run | wall s | it/s incl. start-up | × one run |",
         "|---|---|---|---|---|---|---|"]
lines += [f"| {r['jobs']} | {r['runs_completed']} | {r['sum_it_per_s']:.1f} | {r['throughput_x_one']:.2f}× | "
          f"{r['wall_s']:.1f} | {r['wall_it_per_s']:.1f} | {r['wall_throughput_x_one']:.2f}× |" for r in rows]
(out / "share.md").write_text("# Runs sharing one device (joblib)\n\n" + "\n".join(lines) + "\n")
print("\n".join(lines))
sys.exit(0 if all(r["runs_completed"] == r["jobs"] for r in rows) else 1)
EOF
}

if [ -n "$ONLY" ]; then "step_$ONLY"; exit; fi

rm -f "$OUT/steps.tsv"
for step in $STEPS; do
  case $step in
    cifar10)
      if [ ! -e "$CIFAR" ]; then
        record cifar10 skipped 0 "no CIFAR-10 at CIFAR10_ROOT=$CIFAR (copy ../shared/data/cifar10-jpeg.tar.gz to data/)"
      else run_step cifar10
      fi ;;
    env | toy2d | digits | cost | options | share) run_step "$step" ;;
    *) record "$step" failed 0 "unknown step (allowed: env toy2d digits cifar10 cost options share)" ;;
  esac
done

{
  echo "# GPU check: $(date -u '+%Y-%m-%d %H:%M UTC'), DEVICE=$DEVICE, GPU_CHECK_TINY=$TINY"
  echo
  echo "| step | status | seconds | note |"
  echo "|---|---|---|---|"
  awk -F'\t' '{printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4}' "$OUT/steps.tsv"
} >"$OUT/summary.md"
echo
cat "$OUT/summary.md"
[ -f "$OUT/share.md" ] && tail -n +3 "$OUT/share.md"
! grep -q $'\tfailed\t' "$OUT/steps.tsv"
