//! The second factor: TOTP (RFC 6238) with 6 digits, 30-second steps and HMAC-SHA-1, the
//! parameters every authenticator app understands, and one-time recovery codes.

use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Secret, TOTP};

pub const DIGITS: usize = 6;
pub const STEP_SECS: u64 = 30;
/// Codes of the step before and after the current one are accepted too (clock drift).
pub const SKEW_STEPS: u64 = 1;
/// Recovery codes handed out at enrolment.
pub const RECOVERY_CODES: usize = 10;

fn totp(secret_b32: &str, issuer: &str, account: &str) -> anyhow::Result<TOTP> {
    let bytes = Secret::Encoded(secret_b32.to_string())
        .to_bytes()
        .map_err(|e| anyhow::anyhow!("stored second-factor secret unreadable: {e:?}"))?;
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        SKEW_STEPS as u8,
        STEP_SECS,
        bytes,
        Some(issuer.to_string()),
        account.to_string(),
    )
    .map_err(|e| anyhow::anyhow!("second-factor parameters refused: {e}"))
}

/// A new random 160-bit secret (RFC 4226's recommended length), base32 without padding.
pub fn new_secret() -> anyhow::Result<String> {
    let mut buf = vec![0u8; 20];
    getrandom::fill(&mut buf).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
    match Secret::Raw(buf).to_encoded() {
        Secret::Encoded(s) => Ok(s),
        Secret::Raw(_) => Err(anyhow::anyhow!("secret encoding failed")),
    }
}

/// The `otpauth://totp/…` URI an authenticator app reads (usually as a QR code).
pub fn otpauth_uri(secret_b32: &str, issuer: &str, account: &str) -> anyhow::Result<String> {
    Ok(totp(secret_b32, issuer, account)?.get_url())
}

/// The code of the step `unix_secs` falls in.
pub fn code_at(secret_b32: &str, unix_secs: u64) -> anyhow::Result<String> {
    Ok(totp(secret_b32, "hwtransfer", "code")?.generate(unix_secs))
}

/// The time step (`unix / 30`) whose code `code` is, within the accepted skew of `unix_secs`;
/// the caller refuses a step not later than the last one accepted, so no code counts twice.
pub fn matching_step(secret_b32: &str, code: &str, unix_secs: u64) -> Option<u64> {
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret_b32, "hwtransfer", "code").ok()?;
    let now = unix_secs / STEP_SECS;
    let mut found = None;
    // Every candidate is computed and compared in full, so the timing says nothing of which matched.
    for step in now.saturating_sub(SKEW_STEPS)..=now + SKEW_STEPS {
        let candidate = t.generate(step * STEP_SECS);
        let same = candidate
            .bytes()
            .zip(code.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
        if same && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// A new recovery code: 10 random base32 characters (50 bits), shown once as `XXXXX-XXXXX`.
pub fn new_recovery_code() -> anyhow::Result<String> {
    let mut buf = vec![0u8; 8];
    getrandom::fill(&mut buf).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
    let Secret::Encoded(s) = Secret::Raw(buf).to_encoded() else {
        return Err(anyhow::anyhow!("recovery code encoding failed"));
    };
    Ok(format!("{}-{}", &s[0..5], &s[5..10]))
}

/// What is stored of a recovery code: SHA-256 of its normalised form (upper case, no dash or
/// spaces). The codes are random, so a fast hash does not open them to guessing.
pub fn hash_recovery_code(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    Sha256::digest(normal.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 Appendix B's SHA-1 secret ("12345678901234567890"), its 8-digit vectors cut to 6.
    const RFC_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn rfc6238_vectors() {
        assert_eq!(code_at(RFC_SECRET, 59).unwrap_or_default(), "287082");
        assert_eq!(code_at(RFC_SECRET, 1_111_111_109).unwrap_or_default(), "081804");
        assert_eq!(code_at(RFC_SECRET, 1_234_567_890).unwrap_or_default(), "005924");
    }

    #[test]
    fn a_code_matches_its_step_and_its_neighbours_only() {
        let now = 1_700_000_000;
        let code = code_at(RFC_SECRET, now).unwrap_or_default();
        assert_eq!(matching_step(RFC_SECRET, &code, now), Some(now / 30));
        assert_eq!(matching_step(RFC_SECRET, &code, now + 30), Some(now / 30));
        assert_eq!(matching_step(RFC_SECRET, &code, now - 30), Some(now / 30));
        assert_eq!(matching_step(RFC_SECRET, &code, now + 90), None);
        assert_eq!(matching_step(RFC_SECRET, "12345", now), None);
        assert_eq!(matching_step(RFC_SECRET, "abcdef", now), None);
    }

    #[test]
    fn secrets_uris_and_recovery_codes() {
        let s = new_secret().unwrap_or_default();
        assert_eq!(s.len(), 32);
        let uri = otpauth_uri(&s, "hwtransfer", "admin").unwrap_or_default();
        assert!(uri.starts_with("otpauth://totp/hwtransfer:admin?"), "{uri}");
        assert!(uri.contains(&format!("secret={s}")), "{uri}");
        let c = new_recovery_code().unwrap_or_default();
        assert_eq!(c.len(), 11);
        assert_eq!(
            hash_recovery_code(&c),
            hash_recovery_code(&c.to_lowercase().replace('-', ""))
        );
        assert_ne!(
            hash_recovery_code(&c),
            hash_recovery_code(&new_recovery_code().unwrap_or_default())
        );
    }
}
