#!/usr/bin/env bash
# Fails when `cargo test` would build a dependency with other features than
# `cargo build` does: each such dependency (and everything above it) is then
# compiled twice, which once doubled CI's compile time. The fix is to turn the
# feature on in the root Cargo.toml's "feature alignment" dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
tree() { cargo tree --workspace --locked -q -f '{p} [{f}]' --prefix none "$@"; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
tree -e no-dev > "$dir/build"
tree -e normal,build,dev > "$dir/test"
tree -e normal > "$dir/target"
python3 - "$dir/build" "$dir/test" "$dir/target" <<'PY'
import re, sys

def features(path):
    found = {}
    for line in open(path):
        m = re.match(r"(\S+) (v\S+)(?: \([^)]*\))? \[(.*)\]", line.strip())
        if m:
            found.setdefault((m[1], m[2]), set()).update(f for f in m[3].split(",") if f)
    return found

build, test = features(sys.argv[1]), features(sys.argv[2])
# A package that the normal build needs only for build scripts is built for the
# host, apart from any target copy the test build makes: features differing
# there cost no second build.
target = set(features(sys.argv[3]))
drift = [
    f"{name} {ver}: test build adds {sorted(test[(name, ver)] - feats)}"
    for (name, ver), feats in sorted(build.items())
    if (name, ver) in test and test[(name, ver)] != feats and (name, ver) in target
]
if drift:
    print("feature drift between cargo build and cargo test:", *drift, sep="\n  ")
    sys.exit(1)
print(f"features aligned: {len(build)} packages built once for both cargo build and cargo test")
PY
