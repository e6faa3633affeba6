#!/usr/bin/env bash
# Everything, in order, stopping at the first failure: native Rust tests, wasm tests in Node and in
# headless Chromium, the release build, the JS tests of the built package, the live tests against a
# real Synapse (SKIP_LIVE=1 skips them, saying so), the TypeScript check of its types, the pack test
# (the npm tarball used from Node, TypeScript and a browser), and the demo end-to-end test.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
scripts/bootstrap.sh

shopt -s nullglob
e2e_tests=(tests/e2e/*.test.mjs tests/e2e/*.test.js)
shopt -u nullglob

names=()
times=()
skipped=()
now() { date +%s%N; }
seconds() { awk -v ns="$1" 'BEGIN { printf "%.1f", ns / 1e9 }'; }

summary() {
  echo
  echo "Summary:"
  local i
  for i in "${!times[@]}"; do
    printf '  %-44s %7ss\n' "${names[$i]}" "$(seconds "${times[$i]}")"
  done
  for i in "${!skipped[@]}"; do
    echo "  ${skipped[$i]}"
  done
}

started="$(now)"
step() {
  local name="$1" t0
  shift
  echo
  echo "==> $name"
  t0="$(now)"
  if ! "$@"; then
    names+=("$name  FAILED")
    times+=("$(($(now) - t0))")
    summary
    echo "npm test: FAILED at \"$name\" after $(seconds "$(($(now) - started))")s" >&2
    exit 1
  fi
  names+=("$name")
  times+=("$(($(now) - t0))")
}

# The browser suites run every store behaviour over real IndexedDB in a debug build: about a minute,
# beyond wasm-bindgen-test's default limit of 20 s per run.
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-600}"

# A test that hangs fails after this long instead of holding the run to CI's limit.
node_test=(node --test --test-reporter=spec --test-timeout=600000)

step "cargo test (native)" cargo test
# The preview module alone (no `store` feature): it builds, and its own tests pass without the store.
step "cargo test (native, without the store)" cargo test --no-default-features
step "wasm tests in Node" wasm-pack test --node --mode no-install
step "wasm tests in headless Chromium" wasm-pack test --headless --chrome --mode no-install
step "build the package (pkg/, pkg/preview/)" scripts/build.sh
step "JS tests of the package (tests/js)" "${node_test[@]}" tests/js/*.test.mjs
# Each live test file starts its own Synapse (installed into .cache/synapse-venv on first use).
if [ "${SKIP_LIVE:-0}" = 1 ]; then
  skipped+=("live tests skipped (SKIP_LIVE=1)")
  echo
  echo "==> ${skipped[-1]}"
else
  step "live tests against Synapse (tests/live)" \
    "${node_test[@]}" tests/live/*.test.mjs
fi
step "TypeScript check of the types (tests/types)" tsc --noEmit -p tests/types
step "pack test (tests/pack)" "${node_test[@]}" tests/pack/*.test.mjs
if [ ${#e2e_tests[@]} -gt 0 ]; then
  step "demo end-to-end test (tests/e2e)" "${node_test[@]}" "${e2e_tests[@]}"
fi

summary
skip_note=""
[ ${#skipped[@]} -eq 0 ] || skip_note="; ${skipped[*]}"
echo "npm test: all ${#names[@]} steps passed in $(seconds "$(($(now) - started))")s$skip_note"
