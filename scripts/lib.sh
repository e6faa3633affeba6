# Shared by the scripts in this folder (sourced, not run): the repository root, and a PATH on which
# the pinned tools come first — cargo-installed wasm-pack / wasm-bindgen, then npm's wasm-opt
# (binaryen@132; Debian's binaryen is too old and produces modules that fail to instantiate).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ROOT/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

# Tool versions the build is pinned to (wasm-bindgen must match Cargo.lock exactly).
WASM_PACK_VERSION=0.15.1
WASM_BINDGEN_VERSION=0.2.130

# wasm-opt's passes for both modules (`scripts/build.sh`, which gives what each weighed; also
# `scripts/size-parts.mjs`).
WASM_OPT_PASSES=(-O1 --dae-optimizing --converge)

die() {
  echo "error: $*" >&2
  exit 1
}
