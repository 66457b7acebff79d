//! [`ErrorChain`]: an error and its causes on one line, as every command line of the toolkit
//! prints errors.

use std::error::Error;
use std::fmt;

/// An error and its causes on one line (`cannot read x: No such file or directory (os error
/// 2)`). The toolkit's error types keep their causes out of `Display` and return them from
/// `source()`, so this shows each once.
///
/// ```
/// use workerflow_names::ErrorChain;
///
/// let cause = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
/// #[derive(Debug)]
/// struct Read(std::io::Error);
/// impl std::fmt::Display for Read {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("cannot read x")
///     }
/// }
/// impl std::error::Error for Read {
///     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
///         Some(&self.0)
///     }
/// }
/// assert_eq!(ErrorChain(&Read(cause)).to_string(), "cannot read x: no such file");
/// ```
pub struct ErrorChain<'a>(pub &'a dyn Error);

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(error) = cause {
            write!(f, ": {error}")?;
            cause = error.source();
        }
        Ok(())
    }
}
