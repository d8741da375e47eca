//! JWS compact serialisation (RFC 7515) of tokens signed with SM2 (`alg` [`SM2_ALG`]): the
//! signature itself is the `sm2` crate's (GB/T 32918.2 with SM3); this module only assembles
//! and takes apart the three base64url parts. Only `SM2SM3` is accepted, whatever the header
//! says otherwise (no `none`, no other algorithm).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sm2::dsa::signature::{Signer, Verifier};
use sm2::dsa::{Signature, SigningKey, VerifyingKey};

use super::keys::SM2_ALG;
use super::token::TokenRejected;

/// `header.payload.signature` for `claims`.
pub fn sign<T: Serialize>(key: &SigningKey, kid: &str, claims: &T) -> anyhow::Result<String> {
    let header = serde_json::json!({"alg": SM2_ALG, "typ": "JWT", "kid": kid});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?)
    );
    let signature: Signature = key
        .try_sign(input.as_bytes())
        .map_err(|e| anyhow::anyhow!("signing token: {e}"))?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes())))
}

/// The claims of a token whose header names `SM2SM3` and whose signature verifies; the claims
/// themselves are not checked here.
pub fn verify<T: DeserializeOwned>(key: &VerifyingKey, token: &str) -> Result<T, TokenRejected> {
    let reject = |why: &str| TokenRejected(why.to_string());
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(reject("InvalidToken"));
    };
    let header: serde_json::Value = URL_SAFE_NO_PAD
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| reject("InvalidToken"))?;
    if header.get("alg").and_then(|a| a.as_str()) != Some(SM2_ALG) {
        return Err(reject("InvalidAlgorithm"));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .ok()
        .and_then(|b| Signature::try_from(b.as_slice()).ok())
        .ok_or_else(|| reject("InvalidSignature"))?;
    let input_len = h.len() + 1 + p.len();
    let input = token.get(..input_len).ok_or_else(|| reject("InvalidToken"))?;
    key.verify(input.as_bytes(), &signature)
        .map_err(|_| reject("InvalidSignature"))?;
    let payload = URL_SAFE_NO_PAD.decode(p).map_err(|_| reject("InvalidToken"))?;
    serde_json::from_slice(&payload).map_err(|e| TokenRejected(format!("InvalidClaims: {e}")))
}
