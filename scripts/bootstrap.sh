#!/usr/bin/env bash
# Installs what the build and the tests need, and only what is missing or at the wrong version:
# the wasm32 target, wasm-pack, the wasm-bindgen CLI, Chromium with its chromedriver, and the npm
# dev dependencies (which bring wasm-opt, TypeScript, playwright-core and the static server).
# Prints nothing when everything is in place. Needs Rust (rustup) and Node.js >= 20 beforehand.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

say() { echo "bootstrap: $*" >&2; }

# The version a tool reports (`tool --version` -> "tool 1.2.3"), empty when it is missing.
version_of() { "$1" --version 2>/dev/null | awk '{print $2; exit}' || true; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

command -v cargo >/dev/null && command -v rustup >/dev/null ||
  die "Rust is not installed: get it with rustup (https://rustup.rs), then run this again"
command -v node >/dev/null && command -v npm >/dev/null || die "Node.js >= 20 with npm is required"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || die "Node.js >= 20 is required (found $(node --version))"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(version_of wasm-pack)" != "$WASM_PACK_VERSION" ]; then
  say "installing wasm-pack $WASM_PACK_VERSION (takes a few minutes)"
  cargo install wasm-pack --version "$WASM_PACK_VERSION" --locked --force
fi

# Not --locked: the CLI's own lockfile pins a crate version some registry mirrors lack.
if [ "$(version_of wasm-bindgen)" != "$WASM_BINDGEN_VERSION" ] ||
  [ "$(version_of wasm-bindgen-test-runner)" != "$WASM_BINDGEN_VERSION" ]; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (takes a few minutes)"
  cargo install wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION" --force
fi

# Chromium for the browser tests, and a chromedriver of the same version for wasm-pack.
chromium_ok() {
  [ -x /usr/bin/chromium ] && command -v chromedriver >/dev/null || return 1
  command -v dpkg-query >/dev/null || return 0
  [ "$(dpkg-query -W -f='${Version}' chromium 2>/dev/null)" = \
    "$(dpkg-query -W -f='${Version}' chromium-driver 2>/dev/null)" ]
}
if ! chromium_ok; then
  command -v apt-get >/dev/null ||
    die "install Chromium (/usr/bin/chromium) and a matching chromedriver, then run this again"
  say "installing chromium and chromium-driver with apt-get"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
fi

# npm ci leaves node_modules/.package-lock.json behind; reinstall when the lockfile is newer.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
fi
[ -x node_modules/.bin/wasm-opt ] || die "node_modules/.bin/wasm-opt is missing: run npm ci"
