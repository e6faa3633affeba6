#!/usr/bin/env bash
# Builds the npm package `prejoin` into pkg/ and copies it to www/pkg/ for the demo. Two wasm
# modules, one crate: the whole package (`prejoin`, default features, release profile) in pkg/,
# and the preview module (`prejoin/preview`, without the `store` feature, profile `preview`) in
# pkg/preview/. Each build is skipped when its output is newer than every input of the crate;
# PREJOIN_FORCE_BUILD=1 forces both.
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

# A stamp is set when a build finishes, with the time the build started: an input edited during a
# build is newer than the stamp and triggers the next build.
inputs=(src Cargo.toml scripts/build.sh)
for optional in Cargo.lock build.rs .cargo rust-toolchain rust-toolchain.toml; do
  [ -e "$optional" ] && inputs+=("$optional")
done

# up_to_date STAMP OUTPUT...
up_to_date() {
  [ "${PREJOIN_FORCE_BUILD:-0}" != 1 ] || return 1
  local stamp=$1 file
  for file in "$@"; do
    [ -f "$file" ] || return 1
  done
  [ -z "$(find "${inputs[@]}" -newer "$stamp" -print -quit)" ]
}

# The dependencies' source paths (in panic locations) under `crates/`, not this machine's cargo
# home: the modules come out the same whatever its path.
export RUSTFLAGS="${RUSTFLAGS:-} --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}/registry/src=crates"

# build_once NAME STAMP COMMAND OUTPUT...: runs COMMAND unless the outputs are up to date.
started=""
trap 'rm -f "$started"' EXIT
build_once() {
  local name=$1 stamp=$2 command=$3
  shift 3
  if up_to_date "$stamp" "$@"; then
    echo "build: $name is up to date"
  else
    started="$(mktemp target/prejoin-pkg.started.XXXXXX)"
    "$command"
    mv "$started" "$stamp"
    started=""
  fi
}

build_whole() {
  # wasm-pack writes the snippets into pkg/ and leaves those of older builds there.
  rm -rf pkg/snippets
  # wasm-pack's own wasm-opt pass is off (--no-opt): its -O, like -O2/-Os/-Oz, made the gzipped
  # module larger here (-O2 by 85 KB). `no-logs`: ruma's log calls cost 12 KB gzipped.
  wasm-pack build --target web --release --mode no-install --no-opt --no-gitignore \
    --out-dir pkg --out-name prejoin -- --features no-logs
  wasm_opt pkg/prejoin_bg.wasm
}

# wasm-opt's passes (`WASM_OPT_PASSES`) for both modules, in place, names stripped. -O1 takes
# about 7 KB off the whole module gzipped, stripping the name and producers sections the most.
# Dead argument elimination, run until nothing more changes (--dae-optimizing --converge), 5 KB
# more (1.6 KB off the preview module), at about 30 s a build; -O2 and up, and their inlining,
# make the gzipped modules larger.
wasm_opt() {
  wasm-opt "${WASM_OPT_PASSES[@]}" --strip-debug --strip-producers "$1" -o "$1"
}

# The preview module is built with cargo and wasm-bindgen directly (wasm-pack would write a second
# package.json), into target/prejoin-preview/, then copied into pkg/preview/: wasm-pack may clear
# pkg/ when it rebuilds the whole package, and the preview need not be built again for that.
preview_out=target/prejoin-preview
build_preview() {
  # Measured on the gzipped module: opt-level "z" (the profile) takes about 4 KB off it, wasm-opt
  # -O1 about 2 KB more (-O2/-Os/-Oz make it larger; see `wasm_opt`). `no-logs` compiles ruma's
  # log calls out: no change today (the preview reaches almost none), none to pay for one it
  # reaches later.
  #
  # LLVM's inline threshold at 60, not opt-level "z"'s 25: serde_json reads and writes JSON a
  # token at a time through small functions that "z" leaves as calls. `previewSyncRooms` of the
  # bench's 10,000 invites, timed alone in Node: at 50, 200–235 ms instead of 290–330 ms, for
  # 1.2 KB gzipped; with previews out as rows, at 60 medians of 170–173 ms against 190–200 ms at
  # 50 (three alternate rounds of eight calls), for 0.4 KB (100,446 B). 55 and 65 were no faster
  # than 60, 70 and 80 larger (101,558 and 102,401 B) and no faster either; "s": 185–200 ms and
  # 102.6 KB (before rows); opt-level 3: 132–145 ms and 135 KB. Given as RUSTFLAGS, so that the
  # dependencies are compiled with it too: passed to this crate alone (`cargo rustc`) it made the
  # module larger and slower.
  # The whole package stays at "z": the same threshold costs it 35 KB gzipped.
  RUSTFLAGS="${RUSTFLAGS:-} -C llvm-args=-inline-threshold=60" \
    cargo build --lib --target wasm32-unknown-unknown --profile preview \
    --no-default-features --features no-logs
  rm -rf "$preview_out"
  wasm-bindgen --target web --out-dir "$preview_out" --out-name prejoin_preview \
    target/wasm32-unknown-unknown/preview/prejoin.wasm
  wasm_opt "$preview_out/prejoin_preview_bg.wasm"
}

build_once "pkg/" target/prejoin-pkg.stamp build_whole \
  pkg/prejoin_bg.wasm pkg/prejoin.js pkg/prejoin.d.ts pkg/package.json
build_once "pkg/preview/" target/prejoin-preview.stamp build_preview \
  "$preview_out/prejoin_preview_bg.wasm" "$preview_out/prejoin_preview.js" \
  "$preview_out/prejoin_preview.d.ts"

# sync_dir FROM TO [KEPT...]: copies only changed files, and removes those FROM no longer has, at
# any depth (but the KEPT names of TO's top level), so that a server or test reading TO meanwhile
# is not disturbed, and no snippet an older build wrote is packed or served.
sync_dir() {
  local from=$1 to=$2 copied name kept
  shift 2
  mkdir -p "$to"
  while IFS= read -r -d '' copied; do
    name=${copied#"$to"/}
    for kept in "$@"; do [ "${name%%/*}" != "$kept" ] || continue 2; done
    if [ ! -e "$from/$name" ]; then rm -rf "$copied"; fi
  done < <(find "$to" -mindepth 1 -depth -print0)
  cp -R -p -u "$from"/. "$to"/
}

# finish.mjs adds the Node.js entry of each module.
sync_dir "$preview_out" pkg/preview node.js node.d.ts

node scripts/pkg/finish.mjs

# The demo serves www/ alone; it loads the package from www/pkg/ (/pkg/ on the server).
if [ -d www ]; then
  sync_dir pkg www/pkg
fi
