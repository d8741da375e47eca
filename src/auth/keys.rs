//! The key pair that signs access tokens: Ed25519 (JWS `EdDSA`) by default, SM2 (JWS `SM2SM3`,
//! GB/T 32918 with SM3 and the default distinguishing identifier `1234567812345678`) under
//! `HWT_CRYPTO=sm`. Loaded from PEM files (PKCS#8 private key, SPKI public key); on first start
//! without files a pair is generated into the data directory (private key readable by the owner
//! only).

use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use jsonwebtoken::{DecodingKey, EncodingKey};
use sha2::{Digest, Sha256};

use crate::config::CryptoSuite;

/// The JWS `alg` of SM2 signatures with SM3 (no IANA-registered name exists): the signature is
/// GB/T 32918.2 over the JWS signing input with the distinguishing identifier [`SM2_DIST_ID`],
/// encoded as `r || s` (32 bytes each, big-endian) in base64url.
pub const SM2_ALG: &str = "SM2SM3";
/// The SM2 distinguishing identifier (the default of GM/T 0009-2012).
pub const SM2_DIST_ID: &str = "1234567812345678";

/// The signing half and verifying half of the pair.
pub enum Pair {
    Ed25519 {
        encoding: EncodingKey,
        decoding: DecodingKey,
    },
    Sm2 {
        signing: Box<sm2::dsa::SigningKey>,
        verifying: Box<sm2::dsa::VerifyingKey>,
    },
}

pub struct JwtKeys {
    pub pair: Pair,
    /// Key id: the first 16 hex digits of SHA-256 over the public key.
    pub kid: String,
    /// The public key as a JWK (without `kid`).
    jwk: serde_json::Value,
    /// The key of the filing confirmations (`service::applications::filing`), derived from the
    /// private key: replicas that share the signing pair accept each other's confirmations.
    confirmation: [u8; 32],
    /// Tokens whose signature this pair has checked (`token::verify`).
    pub(super) verified: super::token::VerifiedTokens,
}

impl JwtKeys {
    /// Loads the Ed25519 pair, generating it when neither file exists.
    pub fn load_or_generate(private_path: &Path, public_path: &Path) -> anyhow::Result<JwtKeys> {
        Self::load_or_generate_for(CryptoSuite::Standard, private_path, public_path)
    }

    /// Loads the pair of `suite`, generating it when neither file exists.
    pub fn load_or_generate_for(
        suite: CryptoSuite,
        private_path: &Path,
        public_path: &Path,
    ) -> anyhow::Result<JwtKeys> {
        if !private_path.exists() && !public_path.exists() {
            match suite {
                CryptoSuite::Standard => generate(private_path, public_path)?,
                CryptoSuite::Sm => generate_sm2(private_path, public_path)?,
            }
            tracing::info!(path = %private_path.display(), "generated a new token signing key");
        }
        let private_pem = std::fs::read_to_string(private_path)
            .with_context(|| format!("reading JWT private key {}", private_path.display()))?;
        let public_pem = std::fs::read_to_string(public_path)
            .with_context(|| format!("reading JWT public key {}", public_path.display()))?;
        match suite {
            CryptoSuite::Standard => Self::from_pem(&private_pem, &public_pem),
            CryptoSuite::Sm => Self::from_sm2_pem(&private_pem, &public_pem),
        }
    }

    /// An SM2 pair from PEM (PKCS#8 private key, SPKI public key).
    pub fn from_sm2_pem(private_pem: &str, public_pem: &str) -> anyhow::Result<JwtKeys> {
        use sm2::elliptic_curve::sec1::ToEncodedPoint;
        let secret = sm2::SecretKey::from_pkcs8_pem(private_pem)
            .map_err(|_| anyhow::anyhow!("JWT private key is not an SM2 PKCS#8 PEM (HWT_CRYPTO=sm)"))?;
        let public = sm2::PublicKey::from_public_key_pem(public_pem)
            .map_err(|_| anyhow::anyhow!("JWT public key is not an SM2 SPKI PEM (HWT_CRYPTO=sm)"))?;
        if secret.public_key() != public {
            anyhow::bail!("JWT public key does not match the private key");
        }
        let signing = sm2::dsa::SigningKey::new(SM2_DIST_ID, &secret)
            .map_err(|e| anyhow::anyhow!("loading the SM2 private key: {e}"))?;
        let point = public.to_encoded_point(false);
        let (Some(x), Some(y)) = (point.x(), point.y()) else {
            anyhow::bail!("the SM2 public key is the identity");
        };
        let verifying = sm2::dsa::VerifyingKey::new(SM2_DIST_ID, public)
            .map_err(|e| anyhow::anyhow!("loading the SM2 public key: {e}"))?;
        let kid = kid_of(point.as_bytes());
        let confirmation = derive(&secret.to_bytes(), b"hwtransfer filing confirmation v1");
        Ok(JwtKeys {
            pair: Pair::Sm2 {
                signing: Box::new(signing),
                verifying: Box::new(verifying),
            },
            jwk: serde_json::json!({
                "kty": "EC",
                "crv": "SM2",
                "alg": SM2_ALG,
                "use": "sig",
                "x": URL_SAFE_NO_PAD.encode(x),
                "y": URL_SAFE_NO_PAD.encode(y),
            }),
            kid,
            confirmation,
            verified: Default::default(),
        })
    }

    /// The JWS `alg` of this pair's tokens.
    pub fn alg(&self) -> &'static str {
        match self.pair {
            Pair::Ed25519 { .. } => "EdDSA",
            Pair::Sm2 { .. } => SM2_ALG,
        }
    }

    pub fn from_pem(private_pem: &str, public_pem: &str) -> anyhow::Result<JwtKeys> {
        let signing =
            SigningKey::from_pkcs8_pem(private_pem).context("JWT private key is not an Ed25519 PKCS#8 PEM")?;
        let verifying =
            VerifyingKey::from_public_key_pem(public_pem).context("JWT public key is not an Ed25519 SPKI PEM")?;
        if signing.verifying_key() != verifying {
            anyhow::bail!("JWT public key does not match the private key");
        }
        let encoding = EncodingKey::from_ed_pem(private_pem.as_bytes()).context("loading JWT private key")?;
        let decoding = DecodingKey::from_ed_pem(public_pem.as_bytes()).context("loading JWT public key")?;
        let public = verifying.to_bytes();
        let kid = kid_of(&public);
        let confirmation = derive(&signing.to_bytes(), b"hwtransfer filing confirmation v1");
        Ok(JwtKeys {
            pair: Pair::Ed25519 { encoding, decoding },
            jwk: serde_json::json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "alg": "EdDSA",
                "use": "sig",
                "x": URL_SAFE_NO_PAD.encode(public),
            }),
            kid,
            confirmation,
            verified: Default::default(),
        })
    }

    /// The secret that signs filing confirmations; never the token signing key itself.
    pub fn confirmation_key(&self) -> &[u8; 32] {
        &self.confirmation
    }

    /// The public key as a JWK set, for `/.well-known/jwks.json`: an RFC 8037 OKP key, or under
    /// `sm` an EC key of curve `SM2` with its affine `x` and `y` (32 bytes each, base64url).
    pub fn jwks(&self) -> serde_json::Value {
        let mut key = self.jwk.clone();
        if let Some(m) = key.as_object_mut() {
            m.insert("kid".into(), serde_json::Value::from(self.kid.clone()));
        }
        serde_json::json!({ "keys": [key] })
    }
}

/// The first 16 hex digits of SHA-256 over the public key's bytes.
fn kid_of(public: &[u8]) -> String {
    Sha256::digest(public)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes a fresh SM2 pair as PEM files (PKCS#8 private key, SPKI public key).
pub fn generate_sm2(private_path: &Path, public_path: &Path) -> anyhow::Result<()> {
    let secret = loop {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
        // A value of zero or not below the group order is drawn again.
        if let Ok(k) = sm2::SecretKey::from_slice(&bytes) {
            break k;
        }
    };
    let private_pem = secret
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("encoding private key: {e}"))?;
    let public_pem = secret
        .public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("encoding public key: {e}"))?;
    for p in [private_path, public_path] {
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir)?;
        }
    }
    crate::crypto::files::write_private(private_path, private_pem.as_bytes())?;
    std::fs::write(public_path, public_pem.as_bytes())?;
    Ok(())
}

/// A key for one purpose, derived from a secret with HMAC-SHA256 (the purpose as the message),
/// so that no other use of the secret can produce it.
fn derive(secret: &[u8], purpose: &[u8]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut out = [0u8; 32];
    if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) {
        mac.update(purpose);
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

/// Writes a fresh key pair as PEM files.
pub fn generate(private_path: &Path, public_path: &Path) -> anyhow::Result<()> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
    let signing = SigningKey::from_bytes(&seed);
    let private_pem = signing
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("encoding private key: {e}"))?;
    let public_pem = signing
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("encoding public key: {e}"))?;
    for p in [private_path, public_path] {
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir)?;
        }
    }
    crate::crypto::files::write_private(private_path, private_pem.as_bytes())?;
    std::fs::write(public_path, public_pem.as_bytes())?;
    Ok(())
}
