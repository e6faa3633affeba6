#!/usr/bin/env bash
# Prints the size of the package's two wasm modules and their JS glue, raw and gzipped (gzip -9):
# `prejoin` (pkg/) and `prejoin/preview` (pkg/preview/).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
scripts/build.sh >&2

report() {
  local raw gz
  raw=$(wc -c <"$1")
  gz=$(gzip -9 -c "$1" | wc -c)
  awk -v f="$1" -v r="$raw" -v g="$gz" \
    'BEGIN { printf "%-36s raw %8d B (%6.1f KB)   gzip -9 %8d B (%6.1f KB)\n", f, r, r / 1024, g, g / 1024 }'
}
echo "prejoin"
report pkg/prejoin_bg.wasm
report pkg/prejoin.js
echo "prejoin/preview"
report pkg/preview/prejoin_preview_bg.wasm
report pkg/preview/prejoin_preview.js
