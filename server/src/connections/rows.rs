//! The rows the stores keep, as the stores read and write them (tokens still encrypted).

use std::fmt;

use crate::error::StoreError;

/// A connection's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    /// Authorized; its tokens are used and refreshed.
    Active,
    /// The provider refused the refresh token: a person must authorize it again.
    NeedsReauth,
    /// Deleted through the API: tokens wiped (and revoked at the provider when it can).
    Revoked,
}

impl ConnectionState {
    /// `active`, `needs_reauth` or `revoked`, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Active => "active",
            ConnectionState::NeedsReauth => "needs_reauth",
            ConnectionState::Revoked => "revoked",
        }
    }

    /// The state a stored word names; `None` for a word this server does not write.
    pub fn parse(text: &str) -> Option<ConnectionState> {
        match text {
            "active" => Some(ConnectionState::Active),
            "needs_reauth" => Some(ConnectionState::NeedsReauth),
            "revoked" => Some(ConnectionState::Revoked),
            _ => None,
        }
    }
}

impl fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of `connections`. Token columns are nonce ‖ ciphertext ‖ tag under `key_id`; times
/// are unix seconds.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct StoredRow {
    pub name: String,
    pub service: String,
    /// Kept as text, so a word written by someone else is reported, not guessed at.
    pub state: String,
    pub key_id: String,
    pub access_token: Option<Vec<u8>>,
    pub refresh_token: Option<Vec<u8>>,
    pub expires_at: Option<i64>,
    /// A JSON array of strings.
    pub scopes: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub refreshed_at: Option<i64>,
    pub refresh_count: i64,
}

impl fmt::Debug for StoredRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredRow")
            .field("name", &self.name)
            .field("service", &self.service)
            .field("state", &self.state)
            .field("key_id", &self.key_id)
            .field("has_access_token", &self.access_token.is_some())
            .field("has_refresh_token", &self.refresh_token.is_some())
            .field("expires_at", &self.expires_at)
            .field("refresh_count", &self.refresh_count)
            .finish_non_exhaustive()
    }
}

/// One row of `connection_flows`: an authorization under way, found by the SHA-256 of its
/// state (hex), used once.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct FlowRow {
    pub state_hash: String,
    pub connection: String,
    pub service: String,
    pub key_id: String,
    pub pkce_verifier: Option<Vec<u8>>,
    pub redirect_uri: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl fmt::Debug for FlowRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlowRow")
            .field("connection", &self.connection)
            .field("service", &self.service)
            .field("key_id", &self.key_id)
            .field("has_pkce_verifier", &self.pkce_verifier.is_some())
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The clock every row's times are in: unix seconds of this host.
pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

/// `2026-12-07T20:15:24Z` for unix seconds (UTC; days from the civil calendar algorithm).
pub(crate) fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    let (hour, minute, second) = (rest / 3600, rest % 3600 / 60, rest % 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_674_524), "2026-12-07T20:15:24Z");
    }

    #[test]
    fn states_read_back() {
        for state in [
            ConnectionState::Active,
            ConnectionState::NeedsReauth,
            ConnectionState::Revoked,
        ] {
            assert_eq!(ConnectionState::parse(state.as_str()), Some(state));
        }
        assert_eq!(ConnectionState::parse("gone"), None);
    }
}

/// Why a row could not be locked.
#[derive(Debug)]
pub(crate) enum LockError {
    /// Another holder kept it past the wait (the memory store's turn is the single flight).
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    Timeout,
    /// The store failed.
    Store(StoreError),
}

impl From<StoreError> for LockError {
    fn from(error: StoreError) -> LockError {
        LockError::Store(error)
    }
}
