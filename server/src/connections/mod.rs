//! OAuth 2.0 connections: named, encrypted tokens beside the jobs, refreshed once however many
//! calls and instances ask (see the README's "OAuth connections").

pub mod crypto;

pub use crypto::{KeyError, KeyRing};
