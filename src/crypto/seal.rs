//! Secrets kept at rest encrypted (webhook signing secrets): AES-256-GCM with a key from a file
//! in the data directory (generated on first start, readable by the owner only), a fresh 96-bit
//! nonce per secret, and the row's id as associated data, so a sealed value copied into another
//! row does not open. Stored as `enc:v1:<base64(nonce || ciphertext+tag)>`; anything without the
//! prefix is a plaintext secret of an older database (sealed at start, see
//! `db::outbox::seal_plain_secrets`).

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The prefix of a sealed value.
pub const PREFIX: &str = "enc:v1:";

/// The sealing key.
pub struct Sealer {
    cipher: Aes256Gcm,
}

/// Why a stored value did not open.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    #[error("the sealed value is malformed")]
    Malformed,
    #[error("the sealed value does not open with this key (another key file, or another row's value)")]
    WrongKey,
}

impl Sealer {
    pub fn new(key: &[u8; 32]) -> Sealer {
        Sealer {
            cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key)),
        }
    }

    /// Loads the key file (64 hex digits), generating it when absent.
    pub fn load_or_generate(path: &Path) -> anyhow::Result<Sealer> {
        if !path.exists() {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let text = format!("{}\n", hex(&key));
            match super::files::write_private(path, text.as_bytes()) {
                Ok(()) => tracing::info!(path = %path.display(), "generated a new webhook secret key"),
                // Another process of this data directory made it first: use theirs.
                Err(_) if path.exists() => {}
                Err(e) => return Err(e),
            }
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the webhook secret key {}", path.display()))?;
        let key = unhex(text.trim())
            .and_then(|v| <[u8; 32]>::try_from(v).ok())
            .ok_or_else(|| anyhow::anyhow!("{} must hold 64 hex digits (a 256-bit key)", path.display()))?;
        Ok(Sealer::new(&key))
    }

    /// Seals `plain` for the row `aad`.
    pub fn seal(&self, plain: &str, aad: &str) -> anyhow::Result<String> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
        let sealed = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| anyhow::anyhow!("sealing failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    /// The plaintext of a stored value of the row `aad`; a value without the prefix is returned
    /// as it is (a plaintext secret not sealed yet).
    pub fn open(&self, stored: &str, aad: &str) -> Result<String, OpenError> {
        let Some(b64) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_string());
        };
        let bytes = STANDARD.decode(b64).map_err(|_| OpenError::Malformed)?;
        if bytes.len() < 12 + 16 {
            return Err(OpenError::Malformed);
        }
        let (nonce, sealed) = bytes.split_at(12);
        let nonce = <[u8; 12]>::try_from(nonce).map_err(|_| OpenError::Malformed)?;
        let plain = self
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| OpenError::WrongKey)?;
        String::from_utf8(plain).map_err(|_| OpenError::Malformed)
    }
}

/// True when `stored` is sealed.
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_opens_and_binds_to_the_row() {
        let s = Sealer::new(&[7u8; 32]);
        let sealed = s.seal("whsec_abc", "sub-1").unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("whsec_abc"));
        assert_ne!(sealed, s.seal("whsec_abc", "sub-1").unwrap(), "a fresh nonce each time");
        assert_eq!(s.open(&sealed, "sub-1").unwrap(), "whsec_abc");
        assert_eq!(s.open(&sealed, "sub-2"), Err(OpenError::WrongKey));
        assert_eq!(Sealer::new(&[8u8; 32]).open(&sealed, "sub-1"), Err(OpenError::WrongKey));
        assert_eq!(s.open("enc:v1:!!", "sub-1"), Err(OpenError::Malformed));
        assert_eq!(s.open("whsec_plain", "sub-1").unwrap(), "whsec_plain");
    }

    #[test]
    fn the_key_file_is_generated_once_and_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k").join("webhook-secrets.key");
        let a = Sealer::load_or_generate(&path).unwrap();
        let sealed = a.seal("x", "r").unwrap();
        let b = Sealer::load_or_generate(&path).unwrap();
        assert_eq!(b.open(&sealed, "r").unwrap(), "x", "the same key is read again");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "short").unwrap();
        assert!(Sealer::load_or_generate(&path).is_err());
    }
}
