#!/usr/bin/env bash
# CI step for the notebooks: installs Jupyter (Debian packages, as root) and the GoNB kernel, then executes
# every notebook in quick mode (BINNET_QUICK=1) with `jupyter nbconvert --execute` and the gonb kernel,
# printing each notebook's wall time. Fails on any cell error. The executed copies go to
# $NB_OUT (default /tmp/binnet-notebooks-executed); the notebooks in the repository are not modified.
#
#   bash scripts/ci-notebooks.sh            # from a fresh clone, as root (apt-get)
#   SKIP_APT=1 bash scripts/ci-notebooks.sh # where Jupyter is already installed
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
export GOTOOLCHAIN=go1.27.3 GOEXPERIMENT=simd

step "notebooks: Jupyter and the GoNB kernel"
if [ "${SKIP_APT:-0}" != 1 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends jupyter-notebook jupyter-nbconvert jupyter-client jupyter-nbformat >/dev/null
fi
jupyter --version | grep -E 'nbconvert|nbclient|jupyter_client|notebook' || true
scripts/install-notebook-kernel.sh

step "notebooks: quick mode (BINNET_QUICK=1)"
# The kernel's own log (klog lines on stderr) goes to a file; on a failure its tail is printed.
out="${NB_OUT:-/tmp/binnet-notebooks-executed}"
mkdir -p "$out"
if ! scripts/run-notebooks.sh --quick 2>"$out/stderr.log"; then
	echo "--- last lines of the notebooks' stderr ($out/stderr.log):"
	tail -n 80 "$out/stderr.log"
	exit 1
fi
grep '^\[NbConvertApp\]' "$out/stderr.log" || true
step "notebooks: done"
