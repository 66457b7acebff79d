#!/usr/bin/env bash
# A newcomer's first two commands, on a fresh clone with an empty target directory and the
# crates already downloaded (`cargo fetch`), as issue 12 point 1 measures them:
#   1. README's main command, `cargo run --release -p workerflow-registry -- build`;
#   2. the first `pre-commit run` of the published hooks in another repository (pre-commit
#      clones this repository, the hook script `cargo install`s the lean CLI, the hooks run).
# Also prints how many crates each compiles.
#
# Usage: bench/first_run.sh   (needs pre-commit and git; commits nothing; uses a temp dir)
# Measures the committed HEAD, so commit first.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
rev=$(git rev-parse HEAD)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wf-first-run.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export CARGO_TERM_COLOR=never

seconds() { # command... → wall seconds; the command's output goes to $tmp/last.log
  local start=$EPOCHREALTIME
  "$@" >"$tmp/last.log" 2>&1 || { cat "$tmp/last.log"; exit 1; }
  python3 -c "print(round($EPOCHREALTIME - $start, 1))"
}

git clone -q --no-local "$repo" "$tmp/clone"
(cd "$tmp/clone" && cargo fetch -q)
crates_main=$(cd "$tmp/clone" && cargo tree -q -p workerflow-registry -e normal,build --prefix none --format '{p}' | sort -u | wc -l)
main_cmd=$(cd "$tmp/clone" && seconds cargo run --release -p workerflow-registry -- build)

# A repository with a registry that uses the published hooks from the clone above.
mkdir -p "$tmp/user/connector-registry"
cp "$repo/connector-registry/services.json" "$repo/connector-registry/services.schema.json" \
    "$tmp/user/connector-registry/"
cp -r "$repo/docs" "$tmp/user/docs"
cat >"$tmp/user/.pre-commit-config.yaml" <<YAML
repos:
  - repo: $tmp/clone
    rev: $rev
    hooks:
      - id: workerflow-registry-check
      - id: workerflow-registry-fmt
      - id: workerflow-registry-docs
YAML
cd "$tmp/user"
git init -q -b main
git add -A
export PRE_COMMIT_HOME=$tmp/pre-commit-home
first_hook=$(seconds pre-commit run --all-files)
grep -E 'Passed|Failed' "$tmp/last.log"
second_hook=$(seconds pre-commit run --all-files)

echo
echo "## first run, $(date -u +%Y-%m-%d), $(nproc) cores, $(cargo --version), commit ${rev:0:7}"
echo
echo "| command (fresh clone, empty target dir, crates fetched) | wall time |"
echo "| --- | ---: |"
echo "| \`cargo run --release -p workerflow-registry -- build\` ($crates_main crates) | $main_cmd s |"
echo "| first \`pre-commit run --all-files\` (clone, hook script installs the CLI, 3 hooks) | $first_hook s |"
echo "| second \`pre-commit run --all-files\` | $second_hook s |"
