//! [`SecretValue`]: a secret or token as the runtime carries it, printed `[REDACTED]`. A leaf:
//! every module that handles one depends on it, and it on nothing of the crate.

use std::fmt;

/// A secret's value. `Debug` and `Display` print `[REDACTED]`; [`SecretValue::expose`] is the
/// one way to read it.
#[derive(Clone)]
pub struct SecretValue(Box<str>);

impl SecretValue {
    /// Wraps a value, kept as given (not trimmed).
    pub fn new(value: impl Into<String>) -> Self {
        SecretValue(value.into().into_boxed_str())
    }

    /// The plain value. Call it where the value is used (a header, a URL), never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl From<String> for SecretValue {
    fn from(value: String) -> Self {
        SecretValue::new(value)
    }
}

impl From<&str> for SecretValue {
    fn from(value: &str) -> Self {
        SecretValue::new(value)
    }
}
