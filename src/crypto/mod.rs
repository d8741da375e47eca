//! Cryptography the service applies itself, all from well-kept crates (RustCrypto): sealing
//! secrets at rest ([`seal`]), the suite setting with its digests and MACs ([`suite`]), and key
//! files ([`files`]). Token signatures are in `auth::keys` and `auth::token`. The lowest layer:
//! it uses no other module of ours.

pub mod files;
pub mod seal;
pub mod suite;
