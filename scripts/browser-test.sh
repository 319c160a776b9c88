#!/usr/bin/env bash
# Browser test: the classic Notebook UI in headless Chromium opens notebooks/01-quickstart.ipynb, runs all
# cells (quick mode) and checks there is no error output and that a plot is rendered.
#
#   scripts/browser-test.sh [NOTEBOOK]      # default notebooks/01-quickstart.ipynb
#
# Needs: the gonb kernel (scripts/install-notebook-kernel.sh), Debian's chromium (apt-get install chromium),
# node and npm. playwright-core is installed by npm into $BROWSER_TEST_DIR (default /tmp/binnet-browser-test),
# outside the repository; the screenshot goes there too (notebook.png). The notebook file is left unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
nb="${1:-notebooks/01-quickstart.ipynb}"
# What the notebook's training cell prints once it has trained (checked in the page).
case "$(basename "$nb")" in
	04-*) export BROWSER_EXPECT="${BROWSER_EXPECT:-fully binary ResNet-21: validation accuracy}" ;;
	05-*) export BROWSER_EXPECT="${BROWSER_EXPECT:-test accuracy: add-only runtime}" ;;
	*) export BROWSER_EXPECT="${BROWSER_EXPECT:-test accuracy of the fully binary network}" ;;
esac
dir="${BROWSER_TEST_DIR:-/tmp/binnet-browser-test}"
mkdir -p "$dir"
if [ ! -d "$dir/node_modules/playwright-core" ]; then
	npm install --no-audit --no-fund --prefix "$dir" playwright-core@1.65.1
fi
export GOTOOLCHAIN=go1.27.3 GOEXPERIMENT=simd BINNET_QUICK=1
cp "$nb" "$dir/notebook-backup.ipynb"

port=$((20000 + RANDOM % 20000))
token="$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
jupyter notebook --no-browser --allow-root --ip=127.0.0.1 --port="$port" \
	--NotebookApp.token="$token" --NotebookApp.open_browser=False --notebook-dir="$(pwd)" \
	>"$dir/jupyter.log" 2>&1 &
server=$!
cleanup() {
	kill "$server" 2>/dev/null || true
	wait "$server" 2>/dev/null || true
	if ! cmp -s "$nb" "$dir/notebook-backup.ipynb"; then
		echo "restoring $nb (the notebook server wrote it)"
		cp "$dir/notebook-backup.ipynb" "$nb"
	fi
}
trap cleanup EXIT
for _ in $(seq 60); do
	curl -fsS "http://127.0.0.1:$port/api/status?token=$token" >/dev/null 2>&1 && break
	sleep 1
done
NOTEBOOK_URL="http://127.0.0.1:$port/notebooks/$nb?token=$token" \
	PLAYWRIGHT_DIR="$dir" SCREENSHOT="$dir/notebook.png" \
	node scripts/browser-test.mjs
