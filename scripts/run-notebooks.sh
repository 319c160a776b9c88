#!/usr/bin/env bash
# Executes binnet's notebooks with the GoNB kernel (install it first with
# scripts/install-notebook-kernel.sh) and prints each notebook's wall time.
# Fails on the first notebook with a cell error (compile error or panic).
#
#   scripts/run-notebooks.sh --quick                # CI: BINNET_QUICK=1, executed copies in $NB_OUT (default /tmp/binnet-notebooks-executed)
#   scripts/run-notebooks.sh --inplace --html       # full runs: refresh the outputs saved in notebooks/ and docs/notebooks/*.html
#   scripts/run-notebooks.sh --quick notebooks/01-quickstart.ipynb   # only some notebooks
#
# Options: --quick (BINNET_QUICK=1: a few minutes each on 2 cores), --inplace (write the executed notebooks
# back into notebooks/), --html (render docs/notebooks/NAME.html from the executed notebooks),
# --timeout SECONDS (per cell; default 900 in quick mode, 7200 otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0 inplace=0 html=0 timeout=""
notebooks=()
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--inplace) inplace=1 ;;
	--html) html=1 ;;
	--timeout) timeout="$2"; shift ;;
	-h | --help) sed -n '2,14p' "$0"; exit 0 ;;
	-*) echo "unknown option $1" >&2; exit 2 ;;
	*) notebooks+=("$1") ;;
	esac
	shift
done
[ ${#notebooks[@]} -gt 0 ] || notebooks=(notebooks/[0-9][0-9]-*.ipynb)

export GOTOOLCHAIN=go1.27.3 GOEXPERIMENT=simd
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
if [ $quick = 1 ]; then
	export BINNET_QUICK=1
	timeout="${timeout:-900}"
else
	unset BINNET_QUICK
	timeout="${timeout:-7200}"
fi
out="${NB_OUT:-/tmp/binnet-notebooks-executed}"
[ $inplace = 1 ] && out=notebooks
mkdir -p "$out"
kernels="$(jupyter kernelspec list 2>/dev/null || true)"
if ! grep -q '^ *gonb ' <<<"$kernels"; then
	echo "the gonb kernel is not installed: run scripts/install-notebook-kernel.sh" >&2
	exit 1
fi

mode=full
[ $quick = 1 ] && mode=quick
summary=()
for nb in "${notebooks[@]}"; do
	name="$(basename "$nb")"
	echo "== $name ($mode mode) $(date -u +%H:%M:%S)"
	start=$(date +%s)
	if ! jupyter nbconvert --to notebook --execute \
		--ExecutePreprocessor.kernel_name=gonb \
		--ExecutePreprocessor.timeout="$timeout" \
		--output-dir "$out" --output "$name" "$nb"; then
		echo "FAILED: $name after $(($(date +%s) - start)) s (executed copy, with the error, in $out/$name)" >&2
		exit 1
	fi
	secs=$(($(date +%s) - start))
	# nbconvert returns 0 only when no cell raised; double-check the saved outputs.
	/usr/bin/python3 - "$out/$name" <<'PY'
import json, sys
nb = json.load(open(sys.argv[1]))
errors = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
if errors:
    sys.exit("error output in %s: %s" % (sys.argv[1], errors[0].get("evalue", "")))
PY
	echo "ok: $name ($mode mode) in $secs s"
	summary+=("$(printf '%-32s %-5s %5d s' "$name" "$mode" "$secs")")
	if [ $html = 1 ]; then
		mkdir -p docs/notebooks
		jupyter nbconvert --to html --output-dir docs/notebooks "$out/$name"
	fi
done
[ $inplace = 1 ] && jupyter trust "${notebooks[@]}" >/dev/null 2>&1 || true
echo "== wall times"
printf '%s\n' "${summary[@]}"
