#!/bin/sh
# Runs each fuzz target for a few seconds (default 10; `fuzz/smoke.sh 600` is the full run
# recorded in bench/RESULTS.md). Not part of CI: it needs nightly and cargo-fuzz
# (`cargo install cargo-fuzz --locked`). New corpus entries stay untracked (see .gitignore).
set -eu
cd "$(dirname "$0")"
seconds=${1:-10}
for target in registry_check render dispatch http_errors; do
    # WORKERFLOW_NO_DOCS: the root crate's build.rs must not rewrite docs/ from a fuzz build.
    WORKERFLOW_NO_DOCS=1 cargo +nightly fuzz run "$target" -- -max_total_time="$seconds"
done
