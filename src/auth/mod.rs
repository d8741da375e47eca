//! Authentication and authorisation: password hashing, signed access tokens (EdDSA), the request
//! principal, and the one permission layer every handler uses.

pub mod keys;
pub mod password;
pub mod permission;
pub mod principal;
pub mod rate_limit;
pub mod session;
pub mod sm2_jws;
pub mod token;
pub mod totp;

pub use permission::{Decision, Guarded, authorize};
pub use principal::{Binding, Principal, Role, SubjectKind};
