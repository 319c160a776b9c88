#!/usr/bin/env bash
# Regenerates docs/results.md from the runs of docs/results/run.sh:
#   docs/results/make.sh RUNS COMPARE_OUTPUT_FILE
# (COMPARE_OUTPUT_FILE holds the table printed by `binnet compare`.)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=$1 compare=$2
export GOTOOLCHAIN=go1.27.3 GOEXPERIMENT=simd
{
  cat docs/results/header.md
  echo
  go run ./cmd/binnet report -runs "$runs"
  python3 - "$compare" docs/results/footer.md <<'PY'
import sys
table = open(sys.argv[1]).read().strip("\n")
print(open(sys.argv[2]).read().replace("COMPARE_OUTPUT", table), end="")
PY
} > docs/results.md
echo "wrote docs/results.md"
