# Sourced by the registry benchmarks: builds the release binary and makes sure the generated
# 100,000-service registry exists. Sets `bin` and `large`.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release -q -p workerflow-registry
bin=target/release/workerflow-registry
mkdir -p target/bench
large=target/bench/registry-100000.json
[ -f "$large" ] || python3 bench/gen_registry.py 100000 "$large"
