//! The Ed25519 key pair that signs access tokens. Loaded from PEM files; on first start without
//! files a pair is generated into the data directory (private key readable by the owner only).

use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use jsonwebtoken::{DecodingKey, EncodingKey};
use sha2::{Digest, Sha256};

pub struct JwtKeys {
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    /// Key id: the first 16 hex digits of SHA-256 over the public key.
    pub kid: String,
    public: [u8; 32],
    /// The key of the filing confirmations (`service::applications::filing`), derived from the
    /// private key: replicas that share the signing pair accept each other's confirmations.
    confirmation: [u8; 32],
}

impl JwtKeys {
    /// Loads the pair, generating it when neither file exists.
    pub fn load_or_generate(private_path: &Path, public_path: &Path) -> anyhow::Result<JwtKeys> {
        if !private_path.exists() && !public_path.exists() {
            generate(private_path, public_path)?;
            tracing::info!(path = %private_path.display(), "generated a new token signing key");
        }
        let private_pem = std::fs::read_to_string(private_path)
            .with_context(|| format!("reading JWT private key {}", private_path.display()))?;
        let public_pem = std::fs::read_to_string(public_path)
            .with_context(|| format!("reading JWT public key {}", public_path.display()))?;
        Self::from_pem(&private_pem, &public_pem)
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
        let digest = Sha256::digest(public);
        let kid = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        let confirmation = derive(&signing.to_bytes(), b"hwtransfer filing confirmation v1");
        Ok(JwtKeys {
            encoding,
            decoding,
            kid,
            public,
            confirmation,
        })
    }

    /// The secret that signs filing confirmations; never the token signing key itself.
    pub fn confirmation_key(&self) -> &[u8; 32] {
        &self.confirmation
    }

    /// The public key as a JWK set (RFC 8037 OKP key), for `/.well-known/jwks.json`.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({
            "keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "alg": "EdDSA",
                "use": "sig",
                "kid": self.kid,
                "x": URL_SAFE_NO_PAD.encode(self.public),
            }]
        })
    }
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
    write_private(private_path, private_pem.as_bytes())?;
    std::fs::write(public_path, public_pem.as_bytes())?;
    Ok(())
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes)?;
    Ok(())
}
