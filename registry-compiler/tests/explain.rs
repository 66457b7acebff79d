//! `workerflow-registry explain` is complete: every code is listed, and `explain CODE` prints its
//! rule, why it exists and how to fix it.

use std::process::Command;

use workerflow_registry::Code;

fn explain(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_workerflow-registry"))
        .arg("explain")
        .args(args)
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(0));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn every_code_is_listed_and_explained() {
    let list = explain(&[]);
    for code in Code::ALL {
        assert!(
            list.lines()
                .any(|l| l == format!("{}  {}", code.as_str(), code.title())),
            "{} missing from the list",
            code.as_str()
        );
        for part in [code.title(), code.rationale(), code.fix()] {
            assert!(!part.trim().is_empty(), "{}: empty text", code.as_str());
        }
        let text = explain(&[code.as_str()]);
        assert!(
            text.starts_with(&format!("{}: {}", code.as_str(), code.title())),
            "{text}"
        );
        assert!(
            text.contains(&format!("Why: {}", code.rationale())),
            "{text}"
        );
        assert!(text.contains(&format!("Fix: {}", code.fix())), "{text}");
    }
}
