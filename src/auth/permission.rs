//! The permission layer: role × binding × object (× state, later). Every handler asks here.
//!
//! An object the caller may not even know of answers 404 (no existence leak); a forbidden action
//! on an object the caller can see answers 403.

use super::principal::{Principal, Role};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Visible, but this action is not the caller's to take.
    Forbidden(String),
    /// Not the caller's business: answered as if it did not exist.
    Hidden,
}

/// An object guarded by the permission layer.
pub trait Guarded {
    type Action: Copy + std::fmt::Debug;
    fn decide(&self, who: &Principal, action: Self::Action) -> Decision;
}

/// Why the permission layer said no; each door answers it (404 for hidden, 403 for forbidden).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// Not the caller's business: answered as if it did not exist.
    Hidden,
    /// Visible, but this action is not the caller's to take.
    Forbidden(String),
}

pub fn authorize<G: Guarded>(who: &Principal, object: &G, action: G::Action) -> Result<(), Denied> {
    match object.decide(who, action) {
        Decision::Allow => Ok(()),
        Decision::Forbidden(why) => Err(Denied::Forbidden(why)),
        Decision::Hidden => Err(Denied::Hidden),
    }
}

/// For collection endpoints that only some roles may use at all.
pub fn require_role(who: &Principal, roles: &[Role]) -> Result<(), Denied> {
    if roles.contains(&who.role) {
        Ok(())
    } else {
        Err(Denied::Forbidden(format!(
            "the {} role may not use this endpoint",
            who.role.as_str()
        )))
    }
}
