//! Access tokens: JWTs signed with EdDSA, or with SM2 (`SM2SM3`, see `keys::SM2_ALG`) under
//! `HWT_CRYPTO=sm`. Verification accepts only the pair's own algorithm (so `alg: none` and
//! HS/RS confusion are refused), checks the signature, `exp`, `nbf`, `iss` and `aud`; a token whose
//! signature checked out is remembered by its key pair ([`VerifiedTokens`]), its claims checked anew
//! at every use.

use std::collections::HashMap;
use std::sync::Mutex;

use jsonwebtoken::{Algorithm, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::keys::{JwtKeys, Pair};
use super::principal::{Role, SubjectKind};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    pub binding: String,
    pub kind: SubjectKind,
    pub name: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub jti: String,
    /// Set on a token that may only enrol a second factor (see `service::second_factor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// The scope of a token issued to an admin or regulator who must still enrol a second factor.
pub const ENROLMENT_SCOPE: &str = "second_factor_enrolment";

pub struct TokenIssuer<'a> {
    pub keys: &'a JwtKeys,
    pub issuer: &'a str,
    pub audience: &'a str,
    pub ttl_secs: u64,
}

impl TokenIssuer<'_> {
    pub fn issue(&self, sub: &str, kind: SubjectKind, name: &str, role: Role, binding: &str) -> anyhow::Result<String> {
        self.issue_scoped(sub, kind, name, role, binding, None)
    }

    /// `issue`, limited to `scope` when given.
    pub fn issue_scoped(
        &self,
        sub: &str,
        kind: SubjectKind,
        name: &str,
        role: Role,
        binding: &str,
        scope: Option<&str>,
    ) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: sub.to_string(),
            role,
            binding: binding.to_string(),
            kind,
            name: name.to_string(),
            iat: now,
            nbf: now,
            exp: now + i64::try_from(self.ttl_secs).unwrap_or(3600),
            iss: self.issuer.to_string(),
            aud: self.audience.to_string(),
            jti: uuid::Uuid::new_v4().to_string(),
            scope: scope.map(str::to_string),
        };
        sign(self.keys, &claims)
    }
}

pub fn sign(keys: &JwtKeys, claims: &Claims) -> anyhow::Result<String> {
    match &keys.pair {
        Pair::Ed25519 { encoding, .. } => {
            let mut header = Header::new(Algorithm::EdDSA);
            header.kid = Some(keys.kid.clone());
            encode(&header, claims, encoding).map_err(|e| anyhow::anyhow!("signing token: {e}"))
        }
        Pair::Sm2 { signing, .. } => super::sm2_jws::sign(signing, &keys.kid, claims),
    }
}

/// Why a token was refused; only ever logged, the client gets a generic 401.
#[derive(Debug, thiserror::Error)]
#[error("token rejected: {0}")]
pub struct TokenRejected(pub String);

pub fn verify(keys: &JwtKeys, issuer: &str, audience: &str, token: &str) -> Result<Claims, TokenRejected> {
    verify_at(keys, issuer, audience, token, chrono::Utc::now().timestamp())
}

/// [`verify`] at the instant `now` (Unix seconds); an EdDSA token seen for the first time is
/// checked against the clock by the JWT library.
fn verify_at(keys: &JwtKeys, issuer: &str, audience: &str, token: &str, now: i64) -> Result<Claims, TokenRejected> {
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    if let Some(claims) = keys.verified.get(&digest) {
        return check_claims(claims, issuer, audience, now);
    }
    let claims = verify_signature(keys, issuer, audience, token, now)?;
    keys.verified.put(digest, &claims, now);
    Ok(claims)
}

/// Tokens whose signature a key pair has checked, by the SHA-256 of the token, with their claims.
/// A client sends the same token with every request until it expires, and checking its Ed25519
/// (or SM2) signature was the dearest step of a read's own work (perf: about 9 % of the server's
/// CPU on reads, docs/BENCHMARKS.md). The same bytes verify the same way under the same key, so a
/// token found here skips the signature and the parsing only: its claims (`exp`, `nbf`, `iss`,
/// `aud`) are checked again on every use, and whether its subject may still act is the session's
/// business as before. Bounded: when full, the expired ones go, and all of them if none had.
#[derive(Default)]
pub struct VerifiedTokens {
    entries: Mutex<HashMap<[u8; 32], Claims>>,
}

/// At most this many verified tokens are kept per key pair (a few MiB).
const VERIFIED_KEPT: usize = 10_000;

impl VerifiedTokens {
    fn get(&self, digest: &[u8; 32]) -> Option<Claims> {
        self.entries.lock().ok()?.get(digest).cloned()
    }

    fn put(&self, digest: [u8; 32], claims: &Claims, now: i64) {
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.len() >= VERIFIED_KEPT {
            entries.retain(|_, c| c.exp >= now - LEEWAY_SECS);
            if entries.len() >= VERIFIED_KEPT {
                entries.clear();
            }
        }
        entries.insert(digest, claims.clone());
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }
}

/// The signature and the claims of a token not seen before: SM2's at `now`, EdDSA's by the JWT
/// library against the clock.
fn verify_signature(
    keys: &JwtKeys,
    issuer: &str,
    audience: &str,
    token: &str,
    now: i64,
) -> Result<Claims, TokenRejected> {
    let decoding = match &keys.pair {
        Pair::Ed25519 { decoding, .. } => decoding,
        Pair::Sm2 { verifying, .. } => {
            let claims: Claims = super::sm2_jws::verify(verifying, token)?;
            return check_claims(claims, issuer, audience, now);
        }
    };
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.algorithms = vec![Algorithm::EdDSA];
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.validate_nbf = true;
    validation.validate_exp = true;
    validation.leeway = LEEWAY_SECS as u64;
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    decode::<Claims>(token, decoding, &validation)
        .map(|d| d.claims)
        .map_err(|e| TokenRejected(e.to_string()))
}

/// Seconds of clock difference tolerated on `exp` and `nbf`.
const LEEWAY_SECS: i64 = 5;

/// The claim checks of [`verify`] for a token whose signature was checked by hand (SM2): the
/// same rules as the EdDSA path (`exp`, `nbf` with the leeway, `iss`, `aud`; the other required
/// claims are required by `Claims` itself).
fn check_claims(claims: Claims, issuer: &str, audience: &str, now: i64) -> Result<Claims, TokenRejected> {
    if claims.exp < now - LEEWAY_SECS {
        return Err(TokenRejected("ExpiredSignature".into()));
    }
    if claims.nbf > now + LEEWAY_SECS {
        return Err(TokenRejected("ImmatureSignature".into()));
    }
    if claims.iss != issuer {
        return Err(TokenRejected("InvalidIssuer".into()));
    }
    if claims.aud != audience {
        return Err(TokenRejected("InvalidAudience".into()));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;
    use crate::config::CryptoSuite;

    fn keys(suite: CryptoSuite, dir: &std::path::Path) -> JwtKeys {
        JwtKeys::load_or_generate_for(suite, &dir.join("k.pem"), &dir.join("k.pub.pem")).unwrap()
    }

    fn issuer(keys: &JwtKeys) -> TokenIssuer<'_> {
        TokenIssuer {
            keys,
            issuer: "hwt",
            audience: "api",
            ttl_secs: 600,
        }
    }

    #[test]
    fn an_sm2_token_verifies_and_a_tampered_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let k = keys(CryptoSuite::Sm, dir.path());
        assert_eq!(k.alg(), "SM2SM3");
        let token = issuer(&k)
            .issue("u1", SubjectKind::User, "张三", Role::Enterprise, "e1")
            .unwrap();
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(header["alg"], "SM2SM3");
        assert_eq!(header["kid"], k.kid.as_str());
        let claims = verify(&k, "hwt", "api", &token).unwrap();
        assert_eq!((claims.sub.as_str(), claims.role), ("u1", Role::Enterprise));

        // Another role in the payload, the signature kept.
        let parts: Vec<&str> = token.split('.').collect();
        let mut forged: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        forged["role"] = "admin".into();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap()),
            parts[2]
        );
        assert!(verify(&k, "hwt", "api", &forged).is_err());
        // A flipped signature bit.
        let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        sig[10] ^= 1;
        let flipped = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(sig));
        assert!(verify(&k, "hwt", "api", &flipped).is_err());
        // Wrong audience or issuer.
        assert!(verify(&k, "hwt", "other", &token).is_err());
        assert!(verify(&k, "other", "api", &token).is_err());
        // Another SM2 key does not verify it.
        let other = tempfile::tempdir().unwrap();
        assert!(verify(&keys(CryptoSuite::Sm, other.path()), "hwt", "api", &token).is_err());
        // An EdDSA token is refused by an SM2 service, and the other way round.
        let ed_dir = tempfile::tempdir().unwrap();
        let ed = keys(CryptoSuite::Standard, ed_dir.path());
        let ed_token = issuer(&ed)
            .issue("u1", SubjectKind::User, "张三", Role::Enterprise, "e1")
            .unwrap();
        assert!(verify(&k, "hwt", "api", &ed_token).is_err());
        assert!(verify(&ed, "hwt", "api", &token).is_err());
        // alg none.
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
            parts[1]
        );
        assert!(verify(&k, "hwt", "api", &none).is_err());
    }

    /// A token verified once is found again by its bytes, on either suite: its claims are still
    /// checked at every use (past its expiry, before `nbf`, another issuer or audience: refused),
    /// and other bytes (a flipped signature bit) are checked afresh and not remembered.
    #[test]
    fn a_verified_token_is_remembered_but_its_claims_are_checked_at_every_use() {
        for suite in [CryptoSuite::Standard, CryptoSuite::Sm] {
            let dir = tempfile::tempdir().unwrap();
            let k = keys(suite, dir.path());
            let token = issuer(&k)
                .issue("u1", SubjectKind::User, "张三", Role::Enterprise, "e1")
                .unwrap();
            let claims = verify(&k, "hwt", "api", &token).unwrap();
            assert_eq!(k.verified.len(), 1, "{suite:?}");
            assert_eq!(verify(&k, "hwt", "api", &token).unwrap(), claims, "{suite:?}");
            assert_eq!(k.verified.len(), 1, "{suite:?}: found, not added again");
            let at = |now| verify_at(&k, "hwt", "api", &token, now);
            assert!(at(claims.exp + LEEWAY_SECS).is_ok(), "{suite:?}");
            assert!(at(claims.exp + LEEWAY_SECS + 1).is_err(), "{suite:?}: expired");
            assert!(at(claims.nbf - LEEWAY_SECS - 1).is_err(), "{suite:?}: not yet valid");
            assert!(verify(&k, "hwt", "other", &token).is_err(), "{suite:?}");
            assert!(verify(&k, "other", "api", &token).is_err(), "{suite:?}");
            let parts: Vec<&str> = token.split('.').collect();
            let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
            sig[10] ^= 1;
            let flipped = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(sig));
            assert!(verify(&k, "hwt", "api", &flipped).is_err(), "{suite:?}");
            assert_eq!(k.verified.len(), 1, "{suite:?}: a refused token is not remembered");
        }
    }

    /// When full, the remembered tokens that have expired go first; when none has, all go.
    #[test]
    fn the_verified_tokens_are_bounded() {
        let claims = |exp| Claims {
            sub: "u1".into(),
            role: Role::Admin,
            binding: String::new(),
            kind: SubjectKind::User,
            name: "a".into(),
            iat: 0,
            nbf: 0,
            exp,
            iss: "hwt".into(),
            aud: "api".into(),
            jti: "j".into(),
            scope: None,
        };
        let digest = |i: usize| -> [u8; 32] { Sha256::digest(i.to_be_bytes()).into() };
        let v = VerifiedTokens::default();
        for i in 0..VERIFIED_KEPT - 1 {
            v.put(digest(i), &claims(100), 50);
        }
        v.put(digest(VERIFIED_KEPT), &claims(1000), 50);
        assert_eq!(v.len(), VERIFIED_KEPT);
        v.put(digest(VERIFIED_KEPT + 1), &claims(1000), 200);
        assert_eq!(v.len(), 2, "the expired ones went, the live one stayed");
        assert!(v.get(&digest(VERIFIED_KEPT)).is_some());
        for i in 0..VERIFIED_KEPT - 2 {
            v.put(digest(i), &claims(1000), 200);
        }
        assert_eq!(v.len(), VERIFIED_KEPT);
        v.put(digest(VERIFIED_KEPT + 2), &claims(1000), 200);
        assert_eq!(v.len(), 1, "none expired: all went before the new one was added");
        assert!(v.get(&digest(VERIFIED_KEPT + 2)).is_some());
    }

    #[test]
    fn an_expired_sm2_token_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let k = keys(CryptoSuite::Sm, dir.path());
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: "u1".into(),
            role: Role::Admin,
            binding: String::new(),
            kind: SubjectKind::User,
            name: "a".into(),
            iat: now - 100,
            nbf: now - 100,
            exp: now - 10,
            iss: "hwt".into(),
            aud: "api".into(),
            jti: "j".into(),
            scope: None,
        };
        let token = sign(&k, &claims).unwrap();
        assert!(verify(&k, "hwt", "api", &token).is_err());
        let future = Claims {
            nbf: now + 100,
            exp: now + 200,
            ..claims
        };
        assert!(verify(&k, "hwt", "api", &sign(&k, &future).unwrap()).is_err());
    }

    #[test]
    fn the_sm2_key_is_published_as_an_ec_jwk_of_curve_sm2() {
        let dir = tempfile::tempdir().unwrap();
        let k = keys(CryptoSuite::Sm, dir.path());
        let jwk = &k.jwks()["keys"][0];
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "SM2");
        assert_eq!(jwk["alg"], "SM2SM3");
        assert_eq!(jwk["kid"], k.kid.as_str());
        for c in ["x", "y"] {
            assert_eq!(URL_SAFE_NO_PAD.decode(jwk[c].as_str().unwrap()).unwrap().len(), 32);
        }
        // The pair is read again from its files.
        let again = keys(CryptoSuite::Sm, dir.path());
        assert_eq!(again.kid, k.kid);
        // An Ed25519 file is no SM2 key.
        let ed = tempfile::tempdir().unwrap();
        keys(CryptoSuite::Standard, ed.path());
        assert!(
            JwtKeys::load_or_generate_for(CryptoSuite::Sm, &ed.path().join("k.pem"), &ed.path().join("k.pub.pem"))
                .is_err()
        );
    }
}
