//! How the toolkit spells and suggests names (and prints an error's causes), in one place for
//! the crates that need it: `#[connector]` (`workerflow-macros`), the runtime, the registry
//! compiler and the server. None of the first three may depend on another, so what they must
//! agree on lives here, in a leaf crate with no dependency but `strsim` and serde (and clap
//! behind its feature `clap`).
//!
//! - [`PATH_KEYWORDS`] and [`RAW_KEYWORDS`]: `#[connector]`, the generated registry module and
//!   `workerflow-registry new` spell route ids alike.
//! - [`did_you_mean`]: an attribute key, a route id and a registry field are suggested alike.
//! - [`AuthType`] and [`RequestType`]: the registry, the runtime and the generated code between
//!   them name a service's auth scheme and a route's request type alike.
//! - [`ErrorChain`]: `workerflow-registry` and `workerflow` print an error and its causes alike.
//!
//! It is not a general string library: nothing goes here that only one crate uses.
//!
//! ```
//! use workerflow_names::{RAW_KEYWORDS, did_you_mean};
//!
//! assert_eq!(did_you_mean("slak_message", ["slack_message"]), Some("slack_message"));
//! assert!(RAW_KEYWORDS.contains(&"type"));
//! ```

mod error_chain;
mod keywords;
mod route_kinds;
mod suggest;

pub use error_chain::ErrorChain;
pub use keywords::{PATH_KEYWORDS, RAW_KEYWORDS};
pub use route_kinds::{AuthType, ClientAuth, RequestType};
pub use suggest::did_you_mean;
