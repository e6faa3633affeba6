#!/usr/bin/env bash
# Builds the npm package `prejoin` into pkg/ (release wasm, stripped), and copies it to www/pkg/
# for the demo. The cargo/wasm-pack step is skipped when pkg/ is newer than every input of the
# crate; PREJOIN_FORCE_BUILD=1 forces it.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
scripts/bootstrap.sh

# One build at a time: a second one waits, then finds pkg/ up to date.
mkdir -p target
if command -v flock >/dev/null; then
  exec 9>target/prejoin-pkg.lock
  flock 9
fi

# Set when a build finishes, with the time the build started: an input edited during a build is
# newer than the stamp and triggers the next build.
stamp=target/prejoin-pkg.stamp
inputs=(src Cargo.toml scripts/build.sh)
for optional in Cargo.lock build.rs .cargo rust-toolchain rust-toolchain.toml; do
  [ -e "$optional" ] && inputs+=("$optional")
done

up_to_date() {
  [ "${PREJOIN_FORCE_BUILD:-0}" != 1 ] || return 1
  for file in "$stamp" pkg/prejoin_bg.wasm pkg/prejoin.js pkg/prejoin.d.ts pkg/package.json; do
    [ -f "$file" ] || return 1
  done
  [ -z "$(find "${inputs[@]}" -newer "$stamp" -print -quit)" ]
}

if up_to_date; then
  echo "build: pkg/ is up to date"
else
  started="$(mktemp target/prejoin-pkg.started.XXXXXX)"
  trap 'rm -f "$started"' EXIT
  # wasm-pack's own wasm-opt pass is off (--no-opt): -O/-Oz made the gzipped module larger here.
  # Stripping the name and producers sections is what pays.
  wasm-pack build --target web --release --mode no-install --no-opt --no-gitignore \
    --out-dir pkg --out-name prejoin
  wasm-opt --strip-debug --strip-producers pkg/prejoin_bg.wasm -o pkg/prejoin_bg.wasm
  mv "$started" "$stamp"
fi

node scripts/pkg/finish.mjs

# The demo serves www/ alone; it loads the package from www/pkg/ (/pkg/ on the server). Only
# changed files are copied, so a server or test reading www/pkg/ meanwhile is not disturbed.
if [ -d www ]; then
  mkdir -p www/pkg
  for copied in www/pkg/* www/pkg/.[!.]*; do
    if [ -e "$copied" ] && [ ! -e "pkg/${copied#www/pkg/}" ]; then rm -rf "$copied"; fi
  done
  cp -R -p -u pkg/. www/pkg/
fi
