#!/usr/bin/env bash
# Issue 18's GPU measurements in one go, for a session lent a CUDA machine (an H100 or H200
# with no package index): training throughput (benchmarks/train_throughput.py: ganzoo's fast
# path and fp32 against a plain fp32 loop, TFLOP/s against the card's peak) and generation
# (benchmarks/inference_cuda.py: torch, ganzoo's sampling default, onnxruntime CUDA with IO
# binding). Tables go to stdout and $OUT/gpu-results.md, stderr to $OUT/gpu-log.txt. Every step
# runs under `timeout`, within a budget of $GPU_SH_BUDGET seconds (480) for the whole script, so
# it ends in about 8 minutes whatever happens.
#
#   bash benchmarks/gpu.sh                 # on the GPU machine ($OUT set by the device tool)
#   GPU_SH_DRY=1 bash benchmarks/gpu.sh    # CPU dry run: tiny sizes, the active venv
#   bash benchmarks/gpu.sh --cpu-dry-run   # the same
#
# The device image's python3 already holds CUDA torch, onnxruntime and every ganzoo dependency,
# and nothing can be downloaded there, so ganzoo runs from this checkout (PYTHONPATH). Only a
# python3 without CUDA torch gets its own venv with the README's pinned torch, and only an
# onnxruntime without the CUDA provider gets onnxruntime-gpu (from a carried .whl/ folder, else
# the index); whatever cannot be installed is printed as skipped.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

DRY=${GPU_SH_DRY:-0}
[[ ${1:-} == --cpu-dry-run ]] && DRY=1
OUT=${OUT:-/tmp/ganzoo-gpu-out}
mkdir -p "$OUT"
RESULTS=$OUT/gpu-results.md
LOG=$OUT/gpu-log.txt
: >"$RESULTS"
: >"$LOG"
export PYTHONUNBUFFERED=1
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
PIP_QUICK=(--retries 0 --timeout 5 --disable-pip-version-check -q)
BUDGET=${GPU_SH_BUDGET:-480}
FAILED=0

say() { printf '%s\n' "$*" | tee -a "$RESULTS"; }

# stage NAME SECONDS COMMAND...: run one Python stage, its stdout into the results; its limit
# shrinks to what is left of the budget.
stage() {
    local name=$1 limit=$2 rc
    shift 2
    ((limit > BUDGET - SECONDS - 10)) && limit=$((BUDGET - SECONDS - 10))
    say ""
    say "## $name"
    say ""
    say "\`python ${*:2}\`"
    say ""
    if ((limit < 30)); then
        say "skipped: only ${limit}s of the ${BUDGET}s budget left"
        FAILED=1
        return
    fi
    echo "== $name: $*" >>"$LOG"
    timeout -k 10 "$limit" "$@" 2>>"$LOG" | tee -a "$RESULTS"
    rc=${PIPESTATUS[0]}
    ((rc != 0)) && FAILED=1
    if ((rc == 124 || rc == 137)); then
        say "stage stopped: it ran past its ${limit}s limit"
    elif ((rc != 0)); then
        say "stage failed (exit $rc); the end of its stderr:"
        tail -n 5 "$LOG" | sed 's/^/    /' | tee -a "$RESULTS"
    fi
}

if ((DRY)); then
    PY=${GPU_SH_PYTHON:-$([[ -n ${VIRTUAL_ENV:-} ]] && echo python || echo .venv/bin/python)}
    DEVICE=cpu
    TRAIN=(--batch 4 --steps 2 --rounds 1)
    INFER=(--batches "4,2" --rounds 2)
    say "# ganzoo GPU benchmarks: CPU dry run (tiny sizes, device cpu)"
else
    PY=${GPU_SH_PYTHON:-python3}
    DEVICE=cuda
    TRAIN=(--batch 256 --steps 50 --rounds 5)
    INFER=(--batches "256,64" --rounds 50)
    say "# ganzoo GPU benchmarks (issue 18)"
    say ""
    say "$(nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm \
        --format=csv,noheader 2>&1 | head -n 1)"
    if ! timeout 60 "$PY" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())' \
        2>>"$LOG"; then
        say "$PY has no CUDA torch: making /tmp/ganzoo-venv with torch==2.14.1"
        if timeout 60 python3 -m venv /tmp/ganzoo-venv \
            && timeout 200 /tmp/ganzoo-venv/bin/pip install "${PIP_QUICK[@]}" \
                torch==2.14.1 torchvision==0.29.1 >>"$LOG" 2>&1; then
            PY=/tmp/ganzoo-venv/bin/python
            timeout 90 "$PY" -m pip install "${PIP_QUICK[@]}" -e '.[dev]' >>"$LOG" 2>&1 \
                || say "skipped: pip install -e '.[dev]' (failed; see gpu-log.txt)"
        else
            say "skipped: everything: no CUDA torch, and torch==2.14.1 could not be installed"
            exit 1
        fi
    else
        say "skipped: pip install torch==2.14.1 torchvision==0.29.1 -e '.[dev]': $PY already" \
            "has CUDA torch (no package index there); ganzoo runs from this checkout"
    fi
    if ! timeout 30 "$PY" -c 'import sys, onnxruntime as o
sys.exit("CUDAExecutionProvider" not in o.get_available_providers())' 2>>"$LOG"; then
        SITE=/tmp/ganzoo-ort-gpu
        wheels=(.whl/onnxruntime_gpu-*.whl)
        if [[ -e ${wheels[0]} ]]; then
            ort_from=(--no-index "${wheels[0]}")
        else
            ort_from=(onnxruntime-gpu)
        fi
        if timeout 60 "$PY" -m pip install "${PIP_QUICK[@]}" --no-deps --target "$SITE" \
            "${ort_from[@]}" >>"$LOG" 2>&1; then
            export PYTHONPATH=$SITE:$PYTHONPATH
            say "installed ${ort_from[*]: -1} into $SITE (ahead of the image's onnxruntime)"
        else
            say "skipped: onnxruntime-gpu (not installable here: no index, no .whl/ wheel);" \
                "the onnxruntime CUDA rows will say so"
        fi
    fi
fi

say ""
say "python: $(timeout 60 "$PY" -c 'import sys, torch, onnxruntime as o
print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda,
      "onnxruntime", o.__version__, o.get_available_providers())' 2>&1 | tail -n 1)"

stage "Training throughput, DCGAN-64 (issue 18: fast path >= 2x plain fp32)" 180 \
    "$PY" benchmarks/train_throughput.py --arch dcgan-64 "${TRAIN[@]}" --device "$DEVICE" \
    --flops --target 2
stage "Generation throughput, DCGAN-64 G (issue 18: ORT CUDA fp16 + IO binding >= 2x torch)" \
    180 "$PY" benchmarks/inference_cuda.py "${INFER[@]}" --device "$DEVICE"

say ""
say "done in ${SECONDS}s; tables in $RESULTS, stderr in $LOG"
exit "$FAILED"
