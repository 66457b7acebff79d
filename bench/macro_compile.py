#!/usr/bin/env python3
"""Generates two crates with N connectors for the #[connector] compile-time benchmark:

  with/     N `#[connector]` functions (the macro writes wrapper and registration)
  without/  the same N plain functions plus the registration a user would write by hand instead:
            per route a wrapper (`serde_json::from_value` of the input, the call,
            `serde_json::to_value` of the output) and a table of route ids and wrappers

Both share one registry of N routes, the same build.rs and the same dependencies, so the
difference is the macro's expansion. Usage: bench/macro_compile.py N OUT_DIR"""
import json, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
n, out = int(sys.argv[1]), Path(sys.argv[2])

def service(i):
    url = f"https://service{i}.example.com/docs"
    return {"id": f"service_{i}", "rank": None, "connectorName": f"Service {i}", "officialVendorName": None,
            "officialApiDocsUrl": url, "bestBaseLink": None, "bestBaseLinkScore": None, "bestBaseLinkReason": None,
            "authType": "api_key", "authDocsUrl": None, "webhookDocsUrl": None, "rateLimitDocsUrl": None,
            "openapiUrl": None, "officialSdkUrl": None, "changelogUrl": None, "docsRequiresLogin": None,
            "confidence": "Medium", "notes": None, "sources": [url],
            "runtime": {"routes": [{"id": f"route_{i}", "summary": f"Route {i}.", "requestType": "sync",
                                     "secrets": [{"label": f"Service {i} key", "anyOf": [f"SERVICE_{i}_KEY"]}]}]}}

registry = {"version": 1, "updatedAt": "2026-03-01", "notes": None, "services": [service(i) for i in range(n)]}
common = '''use serde::{Deserialize, Serialize};

workerflow_runtime::include_registry!();

#[derive(Deserialize)]
pub struct Input {
    pub text: String,
}

#[derive(Serialize)]
pub struct Output {
    pub ok: bool,
    pub length: usize,
}
'''
with_macro = [common, "use workerflow_runtime::{ConnectorError, RouteContext, connector};\n"]
without = [common, "use serde_json::Value;\n"]
for i in range(n):
    with_macro.append(f'''
#[connector(route = route_{i})]
pub fn handler_{i}(ctx: &RouteContext<registry::routes::route_{i}::Route>, input: Input) -> Result<Output, ConnectorError> {{
    let _key = ctx.secret(registry::routes::route_{i}::SERVICE_{i}_KEY);
    Ok(Output {{ ok: true, length: input.text.len() + {i} }})
}}
''')
    without.append(f'''
pub fn handler_{i}(key: &str, input: Input) -> Result<Output, String> {{
    let _key = key;
    Ok(Output {{ ok: true, length: input.text.len() + {i} }})
}}
''')
# The registration a user writes without the macro: a wrapper per route (deserialize, call,
# serialize) and a table of them.
for i in range(n):
    without.append(f'''
fn call_{i}(key: &str, payload: Value) -> Result<Value, String> {{
    let input: Input = serde_json::from_value(payload).map_err(|e| e.to_string())?;
    serde_json::to_value(handler_{i}(key, input)?).map_err(|e| e.to_string())
}}
''')
without.append("""
/// Route id and wrapper of every handler.
pub static ROUTES: &[(&str, fn(&str, Value) -> Result<Value, String>)] = &[
""")
for i in range(n):
    without.append(f'    ("route_{i}", call_{i}),\n')
without.append("""];

/// Calls the handler of `route`.
pub fn dispatch(route: &str, key: &str, payload: Value) -> Result<Value, String> {
    let (_, call) = ROUTES
        .iter()
        .find(|(id, _)| *id == route)
        .ok_or_else(|| format!("unknown route {route}"))?;
    call(key, payload)
}
""")
for name, source in [("with", with_macro), ("without", without)]:
    crate = out / name
    (crate / "src").mkdir(parents=True, exist_ok=True)
    (crate / "connector-registry").mkdir(exist_ok=True)
    (crate / "connector-registry/services.json").write_text(json.dumps(registry, indent=2) + "\n")
    (crate / "Cargo.toml").write_text(f'''[package]
name = "macro-bench-{name}"
version = "0.1.0"
edition = "2024"
publish = false

[workspace]

[dependencies]
workerflow-runtime = {{ path = "{root / 'runtime'}" }}
serde = {{ version = "1", features = ["derive"] }}
serde_json = {{ version = "1", features = ["preserve_order"] }}

[build-dependencies]
workerflow-registry = {{ path = "{root / 'registry-compiler'}", default-features = false }}
''')
    (crate / "build.rs").write_text('fn main() {\n    workerflow_registry::codegen::build_script("connector-registry/services.json");\n}\n')
    (crate / "src/lib.rs").write_text("".join(source))
