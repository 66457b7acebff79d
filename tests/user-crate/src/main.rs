//! `workerflow-user-example ROUTE JSON` dispatches one call with secrets from the environment and
//! prints the output (exit 0) or the error as JSON (exit 1); `workerflow-user-example
//! check-config` prints the configuration report.

use std::process::ExitCode;

use workerflow_runtime::EnvSecrets;

fn main() -> ExitCode {
    let registry = match workerflow_user_example::registry::linked() {
        Ok(registry) => registry,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [command] if command == "check-config" => {
            let report = registry.check_config(&EnvSecrets);
            print!("{report}");
            if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        [route, payload] => {
            let payload = match serde_json::from_str(payload) {
                Ok(payload) => payload,
                Err(error) => {
                    eprintln!("error: the payload is not JSON: {error}");
                    return ExitCode::from(2);
                }
            };
            match registry.dispatch_blocking(route, payload, &EnvSecrets) {
                Ok(output) => {
                    println!("{output}");
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    println!("{}", serde_json::to_string(&error).unwrap_or_default());
                    ExitCode::from(1)
                }
            }
        }
        _ => {
            eprintln!(
                "usage: workerflow-user-example ROUTE JSON | workerflow-user-example check-config"
            );
            ExitCode::from(2)
        }
    }
}
