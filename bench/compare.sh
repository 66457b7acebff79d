#!/usr/bin/env bash
# Side by side, in one run on one machine: our `check` against ajv-cli (npm) and check-jsonschema
# (PyPI), and our `build` against a minimal Node renderer of the same HTML table
# (bench/render_table.mjs), on generated registries of 100, 10,000 and 100,000 services, valid
# and with 50 injected errors (40 a schema can express, 10 only our rules can).
#
# Usage: bench/compare.sh [--no-append]
# Needs node/npm, python3 with venv, and hyperfine (installed with apt-get when missing). The
# peers are installed in a temporary directory that is removed at the end. The table is printed
# and appended to bench/RESULTS.md (unless --no-append).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
append=1
[ "${1:-}" = "--no-append" ] && append=0

if ! command -v hyperfine >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null
fi
cargo build --release -q -p workerflow-registry
ours=$root/target/release/workerflow-registry

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "installing ajv-cli and check-jsonschema in $work" >&2
npm install --silent --no-audit --no-fund --prefix "$work/npm" ajv-cli@5.0.0 >/dev/null
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q check-jsonschema==0.39.0
ajv=$work/npm/node_modules/.bin/ajv
cj=$work/venv/bin/check-jsonschema
schema=$root/connector-registry/services.schema.json

sizes=(100 10000 100000)
declare -A runs=([100]=20 [10000]=10 [100000]=3)
for n in "${sizes[@]}"; do
  python3 bench/gen_registry.py "$n" "$work/valid-$n.json"
  python3 bench/gen_registry.py "$n" "$work/errors-$n.json" --errors 50
done

# One hyperfine run per file: every tool on the same input, back to back.
for n in "${sizes[@]}"; do
  for kind in valid errors; do
    file=$work/$kind-$n.json
    hyperfine -N -i --warmup 1 --runs "${runs[$n]}" --style none \
      --export-json "$work/check-$kind-$n.json" \
      -n ours "$ours check $file" \
      -n ajv-cli "$ajv validate --spec=draft2020 --all-errors -s $schema -d $file" \
      -n check-jsonschema "$cj --schemafile $schema $file" >&2
  done
  mkdir -p "$work/out-$n"
  hyperfine -N --warmup 1 --runs "${runs[$n]}" --style none \
    --export-json "$work/build-$n.json" \
    -n ours --prepare "rm -rf $work/out-$n" "$ours build --registry $work/valid-$n.json --out $work/out-$n" \
    -n node "node bench/render_table.mjs $work/valid-$n.json $work/node-$n.html" >&2
done

# Which of the 50 injected errors each tool reports: the services its messages point at.
for n in "${sizes[@]}"; do
  file=$work/errors-$n.json
  "$ours" check --format json "$file" >"$work/ours-$n.out" || true
  "$ajv" validate --spec=draft2020 --all-errors --errors=json -s "$schema" -d "$file" >"$work/ajv-$n.out" 2>&1 || true
  "$cj" --schemafile "$schema" -o JSON "$file" >"$work/cj-$n.out" 2>&1 || true
  "$ours" check "$file" 2>"$work/ours-text-$n.out" || true
done

table=$(python3 - "$work" "${sizes[@]}" <<'EOF'
import json, re, sys
sys.path.insert(0, "bench")
from gen_registry import injected_services

work, sizes = sys.argv[1], [int(n) for n in sys.argv[2:]]

def medians(path):
    return {r["command"]: r["median"] for r in json.load(open(path))["results"]}

def ms(seconds):
    return f"{seconds * 1000:,.1f} ms" if seconds < 10 else f"{seconds:,.2f} s"

def found(n, tool):
    text = open(f"{work}/{tool}-{n}.out", encoding="utf-8", errors="replace").read()
    if tool == "ours":
        pointers = [d["pointer"] or "" for d in json.loads(text)["diagnostics"]]
        hits = {int(m.group(1)) for p in pointers if (m := re.match(r"/services/(\d+)", p))}
    elif tool == "ajv":
        hits = {int(m) for m in re.findall(r'"instancePath": "/services/(\d+)', text)}
    else:
        hits = {int(m) for m in re.findall(r"\$\.services\[(\d+)\]", text)}
    return len(hits & set(injected_services(n, 50)))

def line_column(n, tool):
    if tool == "ours":
        text = open(f"{work}/ours-text-{n}.out").read()
        return "yes" if re.search(r"--> .*:\d+:\d+", text) else "no"
    text = open(f"{work}/{tool}-{n}.out").read()
    return "yes" if re.search(r"line \d+|:\d+:\d+", text) else "no"

print("| services | file | ours `check` | ajv-cli | check-jsonschema | ajv / ours | check-jsonschema / ours |")
print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
for n in sizes:
    for kind in ("valid", "errors"):
        m = medians(f"{work}/check-{kind}-{n}.json")
        o, a, c = m["ours"], m["ajv-cli"], m["check-jsonschema"]
        print(f"| {n:,} | {kind} | {ms(o)} | {ms(a)} | {ms(c)} | {a / o:,.1f}× | {c / o:,.1f}× |")
print()
print("| services | ours `build` (pages, openapi.json, llms.txt) | Node renderer (HTML table) | Node / ours | ours `build` / ours `check` (target ≤ 1.3×) |")
print("| ---: | ---: | ---: | ---: | ---: |")
for n in sizes:
    m = medians(f"{work}/build-{n}.json")
    check = medians(f"{work}/check-valid-{n}.json")["ours"]
    print(f"| {n:,} | {ms(m['ours'])} | {ms(m['node'])} | {m['node'] / m['ours']:,.1f}× | {m['ours'] / check:,.2f}× |")
print()
print("| services | injected errors reported: ours | ajv-cli | check-jsonschema | line:column: ours | ajv-cli | check-jsonschema |")
print("| ---: | ---: | ---: | ---: | --- | --- | --- |")
for n in sizes:
    counts = [f"{found(n, t)}/50" for t in ("ours", "ajv", "cj")]
    where = [line_column(n, t) for t in ("ours", "ajv", "cj")]
    print(f"| {n:,} | " + " | ".join(counts + where) + " |")
EOF
)

header="## compare.sh, $(date -u +%Y-%m-%d), $(nproc) cores: ours vs ajv-cli 5.0.0, check-jsonschema 0.39.0, Node $(node --version)"
note="Medians of hyperfine runs (\`bench/compare.sh\`; 20/10/3 runs for 100/10,000/100,000 services). Ratios are peer time / our time (issue 16's target: ajv-cli / ours ≥ 4× on 100,000 valid services), and our build / our check on the same valid file. \`build\` writes both pages; the Node script renders only the HTML table, without validation or Markdown."
printf '%s\n\n%s\n\n%s\n' "$header" "$note" "$table"
if [ "$append" = 1 ]; then
  printf '\n%s\n\n%s\n\n%s\n' "$header" "$note" "$table" >>bench/RESULTS.md
fi
