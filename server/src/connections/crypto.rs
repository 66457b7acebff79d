//! The connection keys and what they protect: AES-256-GCM over each stored token, with a random
//! 96-bit nonce per encryption, stored as nonce ‖ ciphertext ‖ tag. The associated data binds a
//! ciphertext to its connection and its column, so a value copied into another row or column
//! does not decrypt. The first key of the ring encrypts; every key decrypts the rows it wrote.

use std::fmt;
use std::path::Path;

use aes_gcm::aead::rand_core::RngCore as _;
use aes_gcm::aead::{Aead, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, KeyInit, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// The bytes of a nonce, at the start of every stored value.
const NONCE_BYTES: usize = 12;
/// The bytes of the GCM tag, at the end of every stored value.
const TAG_BYTES: usize = 16;
/// The longest key id accepted (it is stored in every row).
const MAX_KEY_ID: usize = 64;

/// Why a key could not be loaded or a value not encrypted or decrypted. Messages name key ids
/// and entry positions, never key material or plaintext.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No key at all.
    #[error(
        "no connection key is configured: set WORKERFLOW_CONNECTION_KEYS or --connection-keys-file"
    )]
    Empty,
    /// An entry of the list or file is not `id:base64(32 bytes)`.
    #[error("connection key {position} ({origin}): {problem}")]
    Malformed {
        /// Where the entry is: `entry 2` or `line 3`.
        position: String,
        /// The variable or the file.
        origin: String,
        /// What is wrong (never the key).
        problem: String,
    },
    /// Two entries have the same id.
    #[error("connection key id {id:?} appears twice ({origin})")]
    Duplicate {
        /// The id.
        id: String,
        /// The variable or the file.
        origin: String,
    },
    /// The key file cannot be read.
    #[error("cannot read the connection key file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What the operating system said.
        reason: String,
    },
    /// A stored value names a key this server does not have.
    #[error(
        "the connection key {id:?} that encrypted it is not configured (add it to WORKERFLOW_CONNECTION_KEYS or the key file)"
    )]
    UnknownKey {
        /// The row's key id.
        id: String,
    },
    /// A stored value does not decrypt with its key (altered, moved to another row, or the key
    /// under this id is not the one that wrote it).
    #[error(
        "a stored value does not decrypt with key {id:?} (altered, or written with another key under that id)"
    )]
    Decrypt {
        /// The row's key id.
        id: String,
    },
    /// The operating system's random source failed.
    #[error("the operating system's random source failed")]
    Random,
}

struct Entry {
    id: String,
    cipher: Aes256Gcm,
}

/// The connection keys: the first encrypts, all decrypt. `Debug` shows the ids only.
pub struct KeyRing {
    keys: Vec<Entry>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("ids", &self.ids())
            .finish_non_exhaustive()
    }
}

/// The associated data of a stored value: the connection (or flow) and the column.
fn aad(owner: &str, field: &str) -> Vec<u8> {
    let mut data = Vec::with_capacity(owner.len() + field.len() + 24);
    data.extend_from_slice(b"workerflow-connection\0");
    data.extend_from_slice(owner.as_bytes());
    data.push(0);
    data.extend_from_slice(field.as_bytes());
    data
}

impl KeyRing {
    /// Parses `WORKERFLOW_CONNECTION_KEYS`: `id:base64(32 bytes)` entries, comma-separated
    /// (blank entries skipped), the first encrypting.
    pub fn from_list(list: &str) -> Result<KeyRing, KeyError> {
        let origin = "WORKERFLOW_CONNECTION_KEYS";
        let entries = list
            .split(',')
            .enumerate()
            .filter(|(_, entry)| !entry.trim().is_empty())
            .map(|(index, entry)| (format!("entry {}", index + 1), entry));
        KeyRing::from_entries(entries, origin)
    }

    /// Parses a key file's text: one `id:base64(32 bytes)` per line, `#` comments and blank
    /// lines skipped, the first key encrypting. `origin` names the file in errors.
    pub fn from_file_text(text: &str, origin: &str) -> Result<KeyRing, KeyError> {
        let entries = text
            .lines()
            .enumerate()
            .filter(|(_, line)| {
                let line = line.trim();
                !line.is_empty() && !line.starts_with('#')
            })
            .map(|(index, line)| (format!("line {}", index + 1), line));
        KeyRing::from_entries(entries, origin)
    }

    /// Reads and parses a key file (see [`KeyRing::from_file_text`]).
    pub fn from_file(path: &Path) -> Result<KeyRing, KeyError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| KeyError::File {
            path: shown.clone(),
            reason: error.to_string(),
        })?;
        KeyRing::from_file_text(&text, &shown)
    }

    fn from_entries<'a>(
        entries: impl Iterator<Item = (String, &'a str)>,
        origin: &str,
    ) -> Result<KeyRing, KeyError> {
        let mut keys: Vec<Entry> = Vec::new();
        for (position, entry) in entries {
            let malformed = |problem: &str| KeyError::Malformed {
                position: position.clone(),
                origin: origin.to_owned(),
                problem: problem.to_owned(),
            };
            let entry = entry.trim().trim_start_matches('\u{feff}');
            let Some((id, encoded)) = entry.split_once(':') else {
                return Err(malformed("expected `id:base64-of-32-bytes` (no `:` found)"));
            };
            let id = id.trim();
            let valid_id = !id.is_empty()
                && id.len() <= MAX_KEY_ID
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !valid_id {
                return Err(malformed(
                    "the key id must be 1 to 64 characters of ASCII letters, digits, `.`, `_` and `-`",
                ));
            }
            let bytes = STANDARD
                .decode(encoded.trim())
                .map_err(|_| malformed("the key is not valid base64"))?;
            if bytes.len() != 32 {
                return Err(malformed(&format!(
                    "the key is {} bytes long; AES-256 needs exactly 32 (generate one with `openssl rand -base64 32`)",
                    bytes.len()
                )));
            }
            if keys.iter().any(|key| key.id == id) {
                return Err(KeyError::Duplicate {
                    id: id.to_owned(),
                    origin: origin.to_owned(),
                });
            }
            keys.push(Entry {
                id: id.to_owned(),
                cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)),
            });
        }
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(KeyRing { keys })
    }

    /// A ring without keys, for reading what needs no decryption (listings): encrypting and
    /// decrypting fail.
    pub fn none() -> KeyRing {
        KeyRing { keys: Vec::new() }
    }

    /// The id of the key that encrypts.
    pub fn current_id(&self) -> &str {
        self.keys.first().map_or("", |key| key.id.as_str())
    }

    /// Every key id, the encrypting one first.
    pub fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|key| key.id.as_str()).collect()
    }

    /// Encrypts `plaintext` with the first key for column `field` of `owner`: nonce ‖
    /// ciphertext ‖ tag.
    pub fn encrypt(&self, owner: &str, field: &str, plaintext: &[u8]) -> Result<Vec<u8>, KeyError> {
        let key = self.keys.first().ok_or(KeyError::Empty)?;
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng
            .try_fill_bytes(&mut nonce)
            .map_err(|_| KeyError::Random)?;
        let aad = aad(owner, field);
        let sealed = key
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            // Only a message beyond GCM's 64 GiB limit fails; tokens are far shorter.
            .map_err(|_| KeyError::Decrypt { id: key.id.clone() })?;
        let mut stored = Vec::with_capacity(NONCE_BYTES + sealed.len());
        stored.extend_from_slice(&nonce);
        stored.extend_from_slice(&sealed);
        Ok(stored)
    }

    /// Decrypts a value written by [`KeyRing::encrypt`] with key `key_id` for column `field`
    /// of `owner`.
    pub fn decrypt(
        &self,
        key_id: &str,
        owner: &str,
        field: &str,
        stored: &[u8],
    ) -> Result<Vec<u8>, KeyError> {
        let key = self
            .keys
            .iter()
            .find(|key| key.id == key_id)
            .ok_or_else(|| KeyError::UnknownKey {
                id: key_id.to_owned(),
            })?;
        let failed = || KeyError::Decrypt {
            id: key_id.to_owned(),
        };
        if stored.len() < NONCE_BYTES + TAG_BYTES {
            return Err(failed());
        }
        let (nonce, sealed) = stored.split_at(NONCE_BYTES);
        let aad = aad(owner, field);
        key.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| failed())
    }

    /// Whether a key with this id is configured.
    pub fn has(&self, key_id: &str) -> bool {
        self.keys.iter().any(|key| key.id == key_id)
    }
}

/// `n` random bytes from the operating system, base64url without padding (flow states, PKCE
/// verifiers).
pub(crate) fn random_token(bytes: usize) -> Result<String, KeyError> {
    let mut buffer = vec![0u8; bytes];
    OsRng
        .try_fill_bytes(&mut buffer)
        .map_err(|_| KeyError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(buffer))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const KEY_B: &str = "HxweHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=";

    #[test]
    fn values_round_trip_and_are_bound_to_their_row_and_column() {
        let ring = KeyRing::from_list(&format!("k1:{KEY_A}")).expect("one key");
        let stored = ring
            .encrypt("acme", "access_token", b"at-1")
            .expect("encrypts");
        assert_eq!(stored.len(), NONCE_BYTES + 4 + TAG_BYTES);
        assert_eq!(
            ring.decrypt("k1", "acme", "access_token", &stored),
            Ok(b"at-1".to_vec())
        );
        // Another row or another column: refused.
        for (owner, field) in [("other", "access_token"), ("acme", "refresh_token")] {
            assert_eq!(
                ring.decrypt("k1", owner, field, &stored),
                Err(KeyError::Decrypt { id: "k1".into() })
            );
        }
        // A fresh nonce each time.
        let again = ring
            .encrypt("acme", "access_token", b"at-1")
            .expect("encrypts");
        assert_ne!(stored, again);
        // Altered or cut.
        let mut altered = stored.clone();
        altered[NONCE_BYTES] ^= 1;
        assert!(
            ring.decrypt("k1", "acme", "access_token", &altered)
                .is_err()
        );
        assert!(
            ring.decrypt("k1", "acme", "access_token", &stored[..20])
                .is_err()
        );
    }

    #[test]
    fn an_old_key_still_decrypts_after_a_new_first_key() {
        let old = KeyRing::from_list(&format!("k1:{KEY_A}")).expect("one key");
        let stored = old
            .encrypt("acme", "refresh_token", b"rt-1")
            .expect("encrypts");
        let rotated = KeyRing::from_list(&format!("k2:{KEY_B}, k1:{KEY_A}")).expect("two keys");
        assert_eq!(rotated.current_id(), "k2");
        assert_eq!(rotated.ids(), vec!["k2", "k1"]);
        assert_eq!(
            rotated.decrypt("k1", "acme", "refresh_token", &stored),
            Ok(b"rt-1".to_vec())
        );
        let fresh = rotated
            .encrypt("acme", "refresh_token", b"rt-1")
            .expect("encrypts");
        assert!(old.decrypt("k1", "acme", "refresh_token", &fresh).is_err());
        let unknown = KeyRing::from_list(&format!("k2:{KEY_B}")).expect("one key");
        let error = unknown
            .decrypt("k1", "acme", "refresh_token", &stored)
            .expect_err("k1 is gone");
        assert!(error.to_string().contains("\"k1\""), "{error}");
    }

    #[test]
    fn key_files_skip_comments_and_blank_lines() {
        let text = format!("# rotated 2026-12\n\nk2:{KEY_B}\n  # old\nk1:{KEY_A}\n");
        let ring = KeyRing::from_file_text(&text, "keys.txt").expect("two keys");
        assert_eq!(ring.ids(), vec!["k2", "k1"]);
    }

    #[test]
    fn bad_keys_are_refused_by_position_without_the_key() {
        let short = STANDARD.encode([7u8; 16]);
        let cases = [
            (String::new(), "no connection key"),
            (" , ".to_owned(), "no connection key"),
            (format!("k1{KEY_A}"), "entry 1"),
            (format!("k1:{KEY_A},k2:not*base64"), "entry 2"),
            (format!("k1:{short}"), "16 bytes"),
            (format!(":{KEY_A}"), "key id"),
            (format!("k 1:{KEY_A}"), "key id"),
            (format!("k1:{KEY_A},k1:{KEY_B}"), "twice"),
        ];
        for (list, expected) in cases {
            let error = KeyRing::from_list(&list).expect_err(&list);
            let shown = format!("{error} {error:?}");
            assert!(shown.contains(expected), "{list}: {shown}");
            for secret in [KEY_A, KEY_B, short.as_str(), "not*base64"] {
                assert!(!shown.contains(secret), "{shown}");
            }
        }
        let error = KeyRing::from_file_text(&format!("# c\nk1:{KEY_A}\nbroken\n"), "keys.txt")
            .expect_err("line 3");
        assert!(error.to_string().contains("line 3 (keys.txt)"), "{error}");
    }

    #[test]
    fn debug_shows_ids_only() {
        let ring = KeyRing::from_list(&format!("k1:{KEY_A}")).expect("one key");
        let shown = format!("{ring:?}");
        assert!(shown.contains("k1") && !shown.contains(KEY_A), "{shown}");
    }

    #[test]
    fn random_tokens_are_url_safe_and_distinct() {
        let a = random_token(32).expect("random");
        let b = random_token(32).expect("random");
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }
}
