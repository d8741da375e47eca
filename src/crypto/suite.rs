//! The digests and MACs of the configured suite (`HWT_CRYPTO`): SHA-256 and HMAC-SHA256 by
//! default, SM3 and HMAC-SM3 (GB/T 32905-2016) under `sm`, both from RustCrypto crates.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use sm3::Sm3;

/// Which cryptographic algorithms the service uses (DESIGN: 商用密码, GB/T 39786-2021).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CryptoSuite {
    /// SHA-256 for the audit chain, HMAC-SHA256 for webhook signatures, Ed25519 (EdDSA) tokens.
    Standard,
    /// SM3 for the audit chain, HMAC-SM3 for webhook signatures, SM2 (`SM2SM3`) tokens.
    Sm,
}

impl CryptoSuite {
    pub fn as_str(self) -> &'static str {
        match self {
            CryptoSuite::Standard => "standard",
            CryptoSuite::Sm => "sm",
        }
    }

    pub fn parse(s: &str) -> Option<CryptoSuite> {
        match s {
            "standard" => Some(CryptoSuite::Standard),
            "sm" => Some(CryptoSuite::Sm),
            _ => None,
        }
    }
}

/// The hash of `data`, hex (64 digits under either suite).
pub fn digest_hex(suite: CryptoSuite, data: &[u8]) -> String {
    match suite {
        CryptoSuite::Standard => hex(&Sha256::digest(data)),
        CryptoSuite::Sm => hex(&Sm3::digest(data)),
    }
}

/// HMAC of the concatenation of `parts`, keyed with `key`.
pub fn mac(suite: CryptoSuite, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        // HMAC accepts a key of any length, so this cannot fail.
        let Ok(mut m) = <M as hmac::digest::KeyInit>::new_from_slice(key) else {
            return Vec::new();
        };
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().to_vec()
    }
    match suite {
        CryptoSuite::Standard => run::<Hmac<Sha256>>(key, parts),
        CryptoSuite::Sm => run::<Hmac<Sm3>>(key, parts),
    }
}

/// Checks `tag` against the HMAC of `parts` in constant time.
pub fn mac_matches(suite: CryptoSuite, key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
        let Ok(mut m) = <M as hmac::digest::KeyInit>::new_from_slice(key) else {
            return false;
        };
        for p in parts {
            m.update(p);
        }
        m.verify_slice(tag).is_ok()
    }
    match suite {
        CryptoSuite::Standard => run::<Hmac<Sha256>>(key, parts, tag),
        CryptoSuite::Sm => run::<Hmac<Sm3>>(key, parts, tag),
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sm3_of_the_standard_example() {
        // GB/T 32905-2016, appendix A.1: SM3("abc").
        assert_eq!(
            digest_hex(CryptoSuite::Sm, b"abc"),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
        assert_eq!(
            digest_hex(CryptoSuite::Standard, b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn macs_verify_under_their_own_suite_only() {
        for suite in [CryptoSuite::Standard, CryptoSuite::Sm] {
            let tag = mac(suite, b"key", &[b"a", b".", b"b"]);
            assert_eq!(tag.len(), 32);
            assert!(mac_matches(suite, b"key", &[b"a.b"], &tag));
            assert!(!mac_matches(suite, b"other", &[b"a.b"], &tag));
        }
        let sha = mac(CryptoSuite::Standard, b"key", &[b"x"]);
        assert!(!mac_matches(CryptoSuite::Sm, b"key", &[b"x"], &sha));
    }
}
