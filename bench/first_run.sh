#!/usr/bin/env bash
# A newcomer's first commands, on a fresh clone with an empty target directory and the crates
# already downloaded (`cargo fetch`), as issue 12 point 1 and issue 29 point 6 measure them:
#   1. the first `pre-commit run` of the published hooks in another repository (pre-commit
#      clones this repository, the hook script `cargo install`s the lean CLI, the four hooks run),
#      later runs (median of 5), the size of pre-commit's cache (PRE_COMMIT_HOME) after the first
#      run and what the build left in TMPDIR; for the committed HEAD and for a base revision, in
#      the same run, so the two are compared on the same machine under the same load;
#   2. README's main command, `cargo run --release -p workerflow-registry -- build`, at the base
#      revision and at HEAD, each with an empty target directory (skipped with --hooks-only).
#
# Usage: bench/first_run.sh [--hooks-only] [BASE]
#   BASE (or FIRST_RUN_BASE): the revision to compare with; by default the merge base of HEAD
#   with main, or HEAD's parent when HEAD is on main.
# Needs pre-commit, git and python3; commits nothing; everything happens in a temporary
# directory (the crates' download cache ~/.cargo/registry is shared, as on a user's machine).
# Measures the committed HEAD, so commit first.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

hooks_only=
base_arg=${FIRST_RUN_BASE:-}
for arg in "$@"; do
  case $arg in
    --hooks-only) hooks_only=1 ;;
    -*) echo "usage: bench/first_run.sh [--hooks-only] [BASE]" >&2; exit 2 ;;
    *) base_arg=$arg ;;
  esac
done
rev=$(git rev-parse HEAD)
if [ -n "$base_arg" ]; then
  base=$(git rev-parse --verify "$base_arg^{commit}")
else
  base=$(git merge-base HEAD main)
  [ "$base" != "$rev" ] || base=$(git rev-parse HEAD^)
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/wf-first-run.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export CARGO_TERM_COLOR=never
# A fresh machine: no shared target directory, no compiler cache.
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR RUSTC_WRAPPER CARGO_BUILD_RUSTC_WRAPPER

# command... → "wall user+sys" seconds (children included); output in $tmp/last.log.
timed() {
  local TIMEFORMAT='%R %U %S' times
  times=$({ time "$@" >"$tmp/last.log" 2>&1; } 2>&1) || { cat "$tmp/last.log" >&2; exit 1; }
  python3 -c "import sys; r, u, s = map(float, sys.argv[1:]); print(f'{r:.2f} {u + s:.1f}')" $times
}
mib() { du -sk "$1" | awk '{printf "%.1f", $1 / 1024}'; }
load() { cut -d' ' -f1 /proc/loadavg 2>/dev/null || uptime | sed 's/.*load averages*: *//; s/,.*//'; }
# CPU seconds all processes have used since boot (Linux; empty elsewhere).
busy() {
  awk -v tck="$(getconf CLK_TCK)" '/^cpu / {printf "%.1f", ($2 + $3 + $4 + $7 + $8) / tck}' \
    /proc/stat 2>/dev/null || :
}

git clone -q --no-local "$repo" "$tmp/clone"
for r in "$base" "$rev"; do
  (cd "$tmp/clone" && git checkout -q "$r" && cargo fetch -q)
done

# The first and second `pre-commit run --all-files` in a new repository with a registry whose
# `.pre-commit-config.yaml` uses the published hooks of revision $2, with its own cache and TMPDIR.
# Sets first_wall, first_cpu, others_cpu, second_wall, cache_mib, target_mib, tmp_mib,
# load_at_start.
# The hooks' lines go to stderr.
hooks_at() {
  local name=$1 r=$2 user=$tmp/user-$1
  mkdir -p "$user/connector-registry" "$tmp/tmpdir-$name"
  cp "$repo/connector-registry/services.json" "$repo/connector-registry/services.schema.json" \
    "$user/connector-registry/"
  cp -r "$repo/docs" "$user/docs"
  cat >"$user/.pre-commit-config.yaml" <<YAML
repos:
  - repo: $tmp/clone
    rev: $r
    hooks:
      - id: workerflow-registry-check
      - id: workerflow-registry-fmt
      - id: workerflow-registry-docs
      - id: workerflow-registry-diff
YAML
  (
    cd "$user"
    git init -q -b main
    git add -A
  )
  export PRE_COMMIT_HOME=$tmp/home-$name
  load_at_start=$(load)
  local times busy_before
  busy_before=$(busy)
  times=$(cd "$user" && TMPDIR=$tmp/tmpdir-$name timed pre-commit run --all-files)
  read -r first_wall first_cpu <<<"$times"
  # What other processes took from the machine meanwhile (the load the figures were taken under).
  others_cpu=-
  if [ -n "$busy_before" ]; then
    others_cpu=$(python3 -c "import sys; a, b, c = map(float, sys.argv[1:]); print(f'{b - a - c:.1f}')" \
      "$busy_before" "$(busy)" "$first_cpu")
  fi
  grep -E 'Passed|Failed|Skipped' "$tmp/last.log" | sed "s/^/  $name: /" >&2
  cache_mib=$(mib "$PRE_COMMIT_HOME")
  # The hook checkout's target/ (pre-commit keeps each hook repository in a repo* directory).
  target_mib=$(du -sck "$PRE_COMMIT_HOME"/repo*/target 2>/dev/null | awk 'END {printf "%.1f", $1 / 1024}')
  tmp_mib=$(mib "$tmp/tmpdir-$name")
  # Later runs (the binary is in place): the median of 5.
  second_wall=$(for _ in 1 2 3 4 5; do
    (cd "$user" && TMPDIR=$tmp/tmpdir-$name timed pre-commit run --all-files) | cut -d' ' -f1
  done | sort -n | sed -n 3p)
  unset PRE_COMMIT_HOME
}

echo "base ${base:0:7}: first pre-commit run (load $(load))..." >&2
hooks_at base "$base"
b=("$first_wall" "$first_cpu" "$second_wall" "$cache_mib" "$target_mib" "$tmp_mib" "$load_at_start" "$others_cpu")
echo "HEAD ${rev:0:7}: first pre-commit run (load $(load))..." >&2
hooks_at head "$rev"
h=("$first_wall" "$first_cpu" "$second_wall" "$cache_mib" "$target_mib" "$tmp_mib" "$load_at_start" "$others_cpu")

# README's main command on a fresh clone at revision $1: sets main_wall and crates_main.
main_at() {
  crates_main=$(cd "$tmp/clone" && git checkout -q "$1" &&
    cargo tree -q -p workerflow-registry -e normal,build --prefix none --format '{p}' | sort -u | wc -l)
  local times
  times=$(cd "$tmp/clone" && CARGO_TARGET_DIR=$tmp/target-main-$2 \
    timed cargo run --release -p workerflow-registry -- build)
  read -r main_wall _ <<<"$times"
}
if [ -z "$hooks_only" ]; then
  echo "base ${base:0:7}: README's main command (load $(load))..." >&2
  main_at "$base" base
  main_base=("$main_wall" "$crates_main" "$(load)")
  echo "HEAD ${rev:0:7}: README's main command (load $(load))..." >&2
  main_at "$rev" head
  main_head=("$main_wall" "$crates_main" "$(load)")
fi

ratio() {
  python3 -c "import sys; b, h = sys.argv[1:]; ok = b != '-' and h != '-' and float(b) != 0; print(f'{float(h) / float(b):.2f}x' if ok else '-')" "$1" "$2"
}
row() { # label, index into b/h, unit
  echo "| $1 | ${b[$2]}$3 | ${h[$2]}$3 | $(ratio "${b[$2]}" "${h[$2]}") |"
}
echo
echo "## first pre-commit run, $(date -u +%Y-%m-%d), $(nproc) cores, $(cargo --version), base ${base:0:7}, HEAD ${rev:0:7}"
echo
echo "| fresh clone, empty target dir, crates fetched; 4 hooks | base \`${base:0:7}\` | HEAD \`${rev:0:7}\` | HEAD / base |"
echo "| --- | ---: | ---: | ---: |"
row 'first `pre-commit run --all-files`: wall time' 0 ' s'
row 'its CPU time (user + sys, all processes)' 1 ' s'
row 'later `pre-commit run --all-files` (median of 5)' 2 ' s'
row 'pre-commit cache (PRE_COMMIT_HOME) after the first run' 3 ' MiB'
row "of which the hook checkout's \`target/\`" 4 ' MiB'
row 'left in TMPDIR by the first run' 5 ' MiB'
row 'load average when the first run started' 6 ''
row 'CPU time other processes used during the first run' 7 ' s'
if [ -z "$hooks_only" ]; then
  echo
  echo "| README's main command, fresh clone, empty target dir | base \`${base:0:7}\` | HEAD \`${rev:0:7}\` | HEAD / base |"
  echo "| --- | ---: | ---: | ---: |"
  echo "| \`cargo run --release -p workerflow-registry -- build\`: wall time | ${main_base[0]} s | ${main_head[0]} s | $(ratio "${main_base[0]}" "${main_head[0]}") |"
  echo "| crates it compiles (normal and build dependencies) | ${main_base[1]} | ${main_head[1]} | |"
  echo "| load average after it | ${main_base[2]} | ${main_head[2]} | |"
fi
