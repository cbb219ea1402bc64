#!/usr/bin/env bash
# A prepared GPU check (issue 8, item 6): one part in at most 6 minutes on one H100, every step bounded by `timeout`,
# a summary of the figures written to a folder.
#
#   benchmarks/gpu_check.sh quick|accuracy|seeds56|seeds20|lessons [OUTDIR]     (OUTDIR: default $OUT, else ./gpu-check)
#
#   quick     unit tests with CUDA visible (tests/test_train_gpu.py among them), every notebook at
#             RESNET_EDU_SCALE=gpu except the long training lessons, benchmarks/gpu_throughput.py
#   accuracy  benchmarks/cifar10_time_to_accuracy.py, ResNet-20 and ResNet-56, seed 0
#   seeds56   the same, ResNet-56, seeds 1 and 2        seeds20   ResNet-20, seeds 1 and 2
#   lessons   the long GPU training lessons (01_degradation, 08_train_cifar10 when present) at RESNET_EDU_SCALE=gpu
#
# On a bare GPU machine, run ../shared/tools/gpu-prep here first (it fills the ignored .gpu/); this script sources
# .gpu/setup.sh when it is there (wheels, CIFAR-10 image folders under $RESNET_EDU_DATA). GPU_CHECK_DRY=1 makes every
# part tiny and CPU-only (the benchmarks' --dry-run, CPU scale, one notebook), to check the script itself.
set -uo pipefail
part=${1:-}
case "$part" in quick|accuracy|seeds56|seeds20|lessons) ;; *)
  echo "usage: $0 quick|accuracy|seeds56|seeds20|lessons [OUTDIR]" >&2; exit 2 ;; esac
root=$(cd "$(dirname "$0")/.." && pwd) && cd "$root"
out=${2:-${OUT:-$root/gpu-check}}
mkdir -p "$out"
dry=${GPU_CHECK_DRY:-0}
if [ -f .gpu/setup.sh ] && [ "$dry" = 0 ]; then source .gpu/setup.sh; fi
export PYTHONPATH=$root${PYTHONPATH:+:$PYTHONPATH} MPLBACKEND=Agg PYTHONHASHSEED=0 PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
summary=$out/summary-$part.md
scale=gpu; [ "$dry" = 1 ] && scale=cpu
dryflag=(); [ "$dry" = 1 ] && dryflag=(--dry-run)
{
  echo "# gpu_check $part — $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$([ "$dry" = 1 ] && echo ' · DRY RUN (CPU, tiny)')"
  echo "- device: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi')"
  echo "- $($PY -c 'import torch; print("torch", torch.__version__, "· CUDA", torch.cuda.is_available(), "·", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU")' 2>&1 | tail -1)"
  echo "- data: RESNET_EDU_DATA=${RESNET_EDU_DATA:-unset} (the JPEG copy: accuracies run a little below the original's)"
  echo
  echo "| step | result | seconds |"
  echo "|---|---|---|"
} > "$summary"

budget=${GPU_CHECK_BUDGET:-345}  # seconds for the whole part, set-up included: each step gets at most what is left
step() {  # step NAME SECONDS COMMAND...: run bounded, log to OUT/NAME.log, one summary row
  local name=$1 limit=$2; shift 2
  local left=$((budget - SECONDS)) t0=$SECONDS rc
  if [ "$left" -lt 15 ]; then
    echo "| $name | SKIPPED (the part's ${budget} s are spent) | 0 |" >> "$summary"; echo "$name: skipped"; return 0
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  timeout --kill-after=15 "$limit" "$@" > "$out/$name.log" 2>&1; rc=$?
  local took=$((SECONDS - t0)) result
  case $rc in 0) result=ok ;; 124|137) result="TIMEOUT (limit ${limit} s)" ;; *) result="FAILED (exit $rc)" ;; esac
  echo "| $name | $result | $took |" >> "$summary"
  echo "$name: $result in $took s"
  return 0
}

notebook() {  # notebook PATH SECONDS
  local nb=$1 limit=$2
  step "nb-$(basename "$nb" .ipynb)" "$limit" env RESNET_EDU_SCALE=$scale \
    "$PY" -m pytest --nbval-lax --nbval-current-env -q -p no:cacheprovider "$nb"
}

figures() {  # figures TITLE LOG PATTERN: copy the matching lines of a log into the summary
  { echo; echo "## $1"; echo; echo '```'; tr '\r' '\n' < "$2" 2>/dev/null | grep -E "$3"; echo '```'; } >> "$summary"
}

long_lessons="01_degradation 08_train_cifar10"
case "$part" in
quick)
  step gpu-throughput 150 "$PY" benchmarks/gpu_throughput.py --json "$out/gpu_throughput.json" "${dryflag[@]}"
  if [ "$dry" = 1 ]; then
    step unit-tests 300 "$PY" -m pytest -q -p no:cacheprovider tests/test_train_gpu.py tests/test_data.py
    notebook notebooks/00_start_here.ipynb 120
  else
    step unit-tests 120 "$PY" -m pytest -q -p no:cacheprovider tests --ignore=tests/e2e
    for nb in notebooks/[0-9]*.ipynb; do
      case " $long_lessons " in *" $(basename "$nb" .ipynb) "*) continue ;; esac
      notebook "$nb" 60
    done
  fi
  figures "unit tests" "$out/unit-tests.log" "passed|failed|error|skipped"
  figures "throughput (benchmarks/gpu_throughput.py)" "$out/gpu-throughput.log" \
    "^device|^ResNet|^loop|^standard|^fit,|^targets|Error"
  ;;
accuracy|seeds56|seeds20)
  case "$part" in
    accuracy) args=(--depths 20 56 --seeds 0) ;;
    seeds56) args=(--depths 56 --seeds 1 2) ;;
    seeds20) args=(--depths 20 --seeds 1 2) ;;
  esac
  step "time-to-accuracy" 340 "$PY" benchmarks/cifar10_time_to_accuracy.py "${args[@]}" \
    --json "$out/time_to_accuracy-$part.json" "${dryflag[@]}"
  figures "time to accuracy (benchmarks/cifar10_time_to_accuracy.py ${args[*]})" "$out/time-to-accuracy.log" \
    "^device|^ResNet-[0-9]+ \\(|^ResNet-[0-9]+: |^  seed [0-9]+: |Error"
  ;;
lessons)
  if [ "$dry" = 1 ]; then
    echo "| lessons | skipped in a dry run (GPU-scale training) | 0 |" >> "$summary"
  else
    for lesson in $long_lessons; do
      [ -f "notebooks/$lesson.ipynb" ] && notebook "notebooks/$lesson.ipynb" 330
    done
  fi
  ;;
esac
echo
echo "summary: $summary"
cat "$summary"

# ---------------------------------------------------------------------------------------------------------------
# Issue 34, item 6 (appended by i34; unmeasured so far): ResNet-18 with the CIFAR stem on CIFAR-10 from the shell,
# target >= 93 % test accuracy in <= 10 min on one H100. Run on its own: RESNET_EDU_R18=1 bash benchmarks/gpu_check.sh
# ---------------------------------------------------------------------------------------------------------------
if [ "${RESNET_EDU_R18:-0}" = 1 ]; then
  r18_log="${out:-/tmp}/resnet18-cifar10.log"
  RESNET_EDU_SCALE=paper timeout 900 "${PY:-python}" -m resnet_edu.train --arch resnet18_cifar --dataset cifar10 \
    --epochs 30 --batch-size 512 --optimizer sgd --lr 0.4 --nesterov --weight-decay 5e-4 --schedule onecycle \
    --label-smoothing 0.1 --eval-every 0 --quiet 2>&1 | tee "$r18_log"
  echo "ResNet-18 (CIFAR stem) on CIFAR-10: target >= 93 % in <= 600 s; $(tail -1 "$r18_log")"
fi
