#!/usr/bin/env bash
# Installs the GoNB Jupyter kernel for binnet's notebooks (notebooks/*.ipynb).
#
#   scripts/install-notebook-kernel.sh          # kernel only (Jupyter already installed)
#   scripts/install-notebook-kernel.sh --apt    # also apt-get the classic Notebook and nbconvert (Debian/Ubuntu, as root)
#
# What it does:
#   1. (--apt) apt-get install jupyter-notebook jupyter-nbconvert jupyter-client jupyter-nbformat
#   2. go env -w GOTOOLCHAIN=go1.27.3 GOEXPERIMENT=simd: every later go command of this user,
#      including the one GoNB runs to build each cell, uses Go 1.27.3 (GoMLX v0.28 needs it) and the
#      AVX2/AVX-512 kernels of GoMLX's pure-Go backend.
#   3. go install tool: gonb v0.11.5, goimports and gopls at the versions pinned in go.mod.
#   4. gonb --install: registers the "gonb" kernel in ~/.local/share/jupyter/kernels/gonb, then adds
#      GOTOOLCHAIN, GOEXPERIMENT and a PATH holding go, gonb, goimports and gopls to its kernel.json env,
#      so the kernel works even when Jupyter is started from a shell without them.
#   5. jupyter trust notebooks/*.ipynb, so that the saved SVG plots show in the classic Notebook.
#
# JupyterLab works with the same kernel: `pip install jupyterlab` (not packaged in Debian 12), then
# `jupyter lab notebooks/`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--apt" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y --no-install-recommends jupyter-notebook jupyter-nbconvert jupyter-client jupyter-nbformat
fi

if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
export GOTOOLCHAIN=go1.27.3 GOEXPERIMENT=simd
go env -w GOTOOLCHAIN=go1.27.3 GOEXPERIMENT=simd
echo "go env file $(go env GOENV): GOTOOLCHAIN=$(go env GOTOOLCHAIN) GOEXPERIMENT=$(go env GOEXPERIMENT)"

go install tool
gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
export PATH="$gobin:$PATH"
# The go found by the kernel: the one on PATH (it fetches go1.27.3 itself).
gobindir="$(dirname "$(command -v go)")"

gonb --install --logtostderr
kernel_json="$(jupyter --data-dir)/kernels/gonb/kernel.json"
/usr/bin/env python3 - "$kernel_json" "$gobin:$gobindir:$PATH" <<'PY'
import json, sys
path = sys.argv[1]
kpath = ":".join(dict.fromkeys(p for p in sys.argv[2].split(":") if p))  # without duplicates
with open(path) as f:
    spec = json.load(f)
env = spec.get("env") or {}
env.update({"GOTOOLCHAIN": "go1.27.3", "GOEXPERIMENT": "simd", "PATH": kpath})
spec["env"] = env
with open(path, "w") as f:
    json.dump(spec, f, indent=1)
print("kernel spec:", path)
print(json.dumps(spec, indent=1))
PY

jupyter trust notebooks/*.ipynb 2>/dev/null || true
jupyter kernelspec list
