#!/usr/bin/env bash
# Reproduce docs/EXPERIMENTS.md: run a study of config/experiments/ under the protocol and rewrite
# its generated block in the document.
#   scripts/reproduce_synthetic.sh pilot --only mmed,enc-decs,mmed-rgb0.1   # the pilot as run
#   scripts/reproduce_synthetic.sh table1          # the powered Table 1 study (many hours)
#   scripts/reproduce_synthetic.sh table5          # Table 5 (shares table1's mmed runs)
# Resumable: stop it at any time (Ctrl-C or SIGTERM) and run it again to continue. Two runs go
# side by side, one torch thread each (fastest on a shared 2-core machine), at niceness 10.
set -euo pipefail
cd "$(dirname "$0")/.."
STUDY=${1:-pilot}
shift || true
PY=${PY:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python)}
export OMP_NUM_THREADS=1
"$PY" -m mmed_core.cli.experiment run "config/experiments/$STUDY.yaml" --nice 10 \
    --docs docs/EXPERIMENTS.md "$@"
