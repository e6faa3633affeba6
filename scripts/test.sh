#!/usr/bin/env bash
# Everything, in order, stopping at the first failure: native Rust tests, wasm tests in Node and in
# headless Chromium, the release build, the JS tests of the built package, the TypeScript check of
# its types, the pack test (the npm tarball used from Node, TypeScript and a browser), and the demo
# end-to-end test.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
scripts/bootstrap.sh

shopt -s nullglob
e2e_tests=(tests/e2e/*.test.mjs tests/e2e/*.test.js)
shopt -u nullglob

names=()
times=()
now() { date +%s%N; }
seconds() { awk -v ns="$1" 'BEGIN { printf "%.1f", ns / 1e9 }'; }

summary() {
  echo
  echo "Summary:"
  local i
  for i in "${!times[@]}"; do
    printf '  %-44s %7ss\n' "${names[$i]}" "$(seconds "${times[$i]}")"
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

step "cargo test (native)" cargo test
step "wasm tests in Node" wasm-pack test --node --mode no-install
# The runner gives each test binary 20 s by default, for all its tests together; the IndexedDB
# suites take most of that on an idle 2-core machine and more under load.
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-180}"
step "wasm tests in headless Chromium" wasm-pack test --headless --chrome --mode no-install
step "build the package (pkg/)" scripts/build.sh
step "JS tests of the package (tests/js)" node --test --test-reporter=spec tests/js/*.test.mjs
step "TypeScript check of the types (tests/types)" tsc --noEmit -p tests/types
step "pack test (tests/pack)" node --test --test-reporter=spec tests/pack/*.test.mjs
if [ ${#e2e_tests[@]} -gt 0 ]; then
  step "demo end-to-end test (tests/e2e)" node --test --test-reporter=spec "${e2e_tests[@]}"
fi

summary
echo "npm test: all ${#names[@]} steps passed in $(seconds "$(($(now) - started))")s"
