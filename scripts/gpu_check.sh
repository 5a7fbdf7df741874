#!/usr/bin/env bash
# GPU check of mmed in one call of at most 8 minutes, on a machine with one NVIDIA GPU and no
# network:
#   1. the test suite's `cuda`-marked tests (pytest -m cuda),
#   2. inference in fp32/fp16/bf16 (eager, CUDA graphs, torch.compile) and a short training run
#      (naive vs batched multi-path step), printed as one table (python -m benchmarks.gpu).
#
#   scripts/gpu_check.sh            # from anywhere; uses the repository's .venv
#   MMED_PYTHON=/opt/venv/bin/python scripts/gpu_check.sh   # another interpreter with CUDA torch
#
# Nothing is downloaded: the GPU machine has no network. The interpreter must already have a
# CUDA build of torch and mmed's requirements (what `./dev setup` installs, with a CUDA torch
# instead of the CPU wheel). If it does not, the script says what is missing and exits 2.
set -uo pipefail
cd "$(dirname "$0")/.."

TOTAL_S=${MMED_GPU_CHECK_SECONDS:-470}   # under the 8-minute limit, with room to print
TESTS_S=150
start=$(date +%s)
left() { echo $(( TOTAL_S - ($(date +%s) - start) )); }

# Candidates, in order: an explicit one, the copied .venv, then the system's python3.
candidates=()
[ -n "${MMED_PYTHON:-}" ] && candidates+=("$MMED_PYTHON")
candidates+=(".venv/bin/python" "python3")
PY=""
report=""
for cand in "${candidates[@]}"; do
    if ! command -v "$cand" >/dev/null 2>&1 && [ ! -x "$cand" ]; then
        report+="  $cand: not found (a .venv copied from another machine only works where its base python exists)"$'\n'
        continue
    fi
    probe=$("$cand" - 2>&1 <<'EOF'
import importlib.util, sys
missing = [m for m in ("torch", "numpy", "safetensors", "yaml", "cv2", "pytest")
           if importlib.util.find_spec(m) is None]
if missing:
    print("missing packages: " + ", ".join(missing)); sys.exit(1)
import torch
if not torch.cuda.is_available():
    print(f"torch {torch.__version__} sees no CUDA device (built with CUDA {torch.version.cuda}; "
          "a +cpu build needs replacing by a CUDA build)"); sys.exit(1)
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}")
EOF
)
    if [ $? -eq 0 ]; then
        PY="$cand"
        echo "[gpu_check] python: $cand ($probe)"
        break
    fi
    report+="  $cand: $probe"$'\n'
done
if [ -z "$PY" ]; then
    echo "[gpu_check] no usable interpreter: mmed needs python with a CUDA build of torch and the" >&2
    echo "packages of requirements/base.txt + dev.txt (this machine has no network to install them)." >&2
    echo "Tried:" >&2
    printf '%s' "$report" >&2
    echo "Fix: build the .venv with ./dev setup on a machine with network, replacing the CPU wheel by" >&2
    echo "a CUDA one (pip install torch==<version> --index-url https://download.pytorch.org/whl/cu128)," >&2
    echo "copy it along, or point MMED_PYTHON at an interpreter that has them." >&2
    exit 2
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"   # works without `pip install -e .` too
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-8}
"$PY" -c "import torch; print('[gpu_check]', torch.cuda.get_device_name(0), torch.cuda.get_device_properties(0).total_memory // 2**30, 'GiB')"
nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total,utilization.gpu --format=csv 2>/dev/null || true

echo "[gpu_check] 1/2 cuda-marked tests (at most ${TESTS_S} s)"
timeout -k 10 "$TESTS_S" "$PY" -m pytest -q -m cuda -p no:cacheprovider test
tests_rc=$?
[ $tests_rc -eq 124 ] && echo "[gpu_check] tests ran out of time (${TESTS_S} s)"

budget=$(( $(left) - 40 ))
if [ "$budget" -lt 30 ]; then
    echo "[gpu_check] no time left for the benchmark table"
    exit $(( tests_rc ? 1 : 0 ))
fi
echo "[gpu_check] 2/2 inference + training table (budget ${budget} s)"
timeout -k 10 $(( budget + 30 )) "$PY" -m benchmarks.gpu --device cuda --budget "$budget"
bench_rc=$?
echo "[gpu_check] done in $(( $(date +%s) - start )) s: tests rc=$tests_rc, benchmark rc=$bench_rc"
[ $tests_rc -eq 0 ] && [ $bench_rc -eq 0 ]
