//! Access tokens: JWTs signed with EdDSA. Verification accepts only EdDSA (so `alg: none` and
//! HS/RS confusion are refused), checks the signature, `exp`, `nbf`, `iss` and `aud`.

use jsonwebtoken::{Algorithm, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

use super::keys::JwtKeys;
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
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(keys.kid.clone());
    encode(&header, claims, &keys.encoding).map_err(|e| anyhow::anyhow!("signing token: {e}"))
}

/// Why a token was refused; only ever logged, the client gets a generic 401.
#[derive(Debug, thiserror::Error)]
#[error("token rejected: {0}")]
pub struct TokenRejected(pub String);

pub fn verify(keys: &JwtKeys, issuer: &str, audience: &str, token: &str) -> Result<Claims, TokenRejected> {
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.algorithms = vec![Algorithm::EdDSA];
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.validate_nbf = true;
    validation.validate_exp = true;
    validation.leeway = 5;
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    decode::<Claims>(token, &keys.decoding, &validation)
        .map(|d| d.claims)
        .map_err(|e| TokenRejected(e.to_string()))
}
