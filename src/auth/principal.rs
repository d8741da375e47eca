//! Who is calling: the role and the party it is bound to (DESIGN §3).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::ids::ProvinceCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Enterprise,
    Operator,
    Regulator,
    Auditor,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Enterprise => "enterprise",
            Role::Operator => "operator",
            Role::Regulator => "regulator",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "enterprise" => Role::Enterprise,
            "operator" => Role::Operator,
            "regulator" => Role::Regulator,
            "auditor" => Role::Auditor,
            "admin" => Role::Admin,
            _ => return None,
        })
    }
}

/// What a principal may read: everything, one province's cases, or one party's own. The one
/// reading of role × binding that every scoped query and visibility rule starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// Admins and nationwide auditors.
    All,
    /// Regulators and auditors of a province: what involves it.
    Province(ProvinceCode),
    /// A producer enterprise's users and clients: its own.
    Enterprise(&'a str),
    /// An operator's users and clients: what names it.
    Operator(&'a str),
    /// A role and binding that do not go together (refused by token issue; kept for safety).
    Nothing,
}

/// The party a principal acts for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Binding {
    /// Admins, and auditors of the whole country.
    Nationwide,
    Province(ProvinceCode),
    Enterprise(String),
    Operator(String),
}

impl Binding {
    /// The compact form carried in the token's `binding` claim.
    pub fn to_claim(&self) -> String {
        match self {
            Binding::Nationwide => "nationwide".into(),
            Binding::Province(p) => format!("province:{}", p.as_str()),
            Binding::Enterprise(id) => format!("enterprise:{id}"),
            Binding::Operator(id) => format!("operator:{id}"),
        }
    }

    /// The binding a role requires, from the stored columns; None when they do not fit the role.
    pub fn for_role(
        role: Role,
        province: Option<&str>,
        enterprise_id: Option<&str>,
        operator_id: Option<&str>,
    ) -> Option<Binding> {
        match role {
            Role::Enterprise => enterprise_id.map(|e| Binding::Enterprise(e.to_string())),
            Role::Operator => operator_id.map(|o| Binding::Operator(o.to_string())),
            Role::Regulator => province
                .and_then(|p| ProvinceCode::parse(p).ok())
                .map(Binding::Province),
            Role::Auditor => match province {
                None => Some(Binding::Nationwide),
                Some(p) => ProvinceCode::parse(p).ok().map(Binding::Province),
            },
            Role::Admin => Some(Binding::Nationwide),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SubjectKind {
    /// A person with a username and password.
    User,
    /// An enterprise or operator system using client credentials.
    Client,
}

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user's or client's id.
    pub subject: String,
    pub kind: SubjectKind,
    pub name: String,
    pub role: Role,
    pub binding: Binding,
}

impl Principal {
    pub fn is(&self, role: Role) -> bool {
        self.role == role
    }

    pub fn province(&self) -> Option<ProvinceCode> {
        match self.binding {
            Binding::Province(p) => Some(p),
            _ => None,
        }
    }
}

impl Principal {
    /// What this principal may read (see [`Scope`]).
    pub fn scope(&self) -> Scope<'_> {
        match (&self.role, &self.binding) {
            (Role::Admin, _) | (Role::Auditor, Binding::Nationwide) => Scope::All,
            (Role::Regulator | Role::Auditor, Binding::Province(p)) => Scope::Province(*p),
            (Role::Enterprise, Binding::Enterprise(id)) => Scope::Enterprise(id),
            (Role::Operator, Binding::Operator(id)) => Scope::Operator(id),
            _ => Scope::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(role: Role, binding: Binding) -> Principal {
        Principal {
            subject: "s".into(),
            kind: SubjectKind::User,
            name: "n".into(),
            role,
            binding,
        }
    }

    #[test]
    fn scope_reads_role_and_binding_once() {
        let cq = ProvinceCode::parse("500000").unwrap();
        assert_eq!(who(Role::Admin, Binding::Nationwide).scope(), Scope::All);
        assert_eq!(who(Role::Auditor, Binding::Nationwide).scope(), Scope::All);
        assert_eq!(who(Role::Auditor, Binding::Province(cq)).scope(), Scope::Province(cq));
        assert_eq!(who(Role::Regulator, Binding::Province(cq)).scope(), Scope::Province(cq));
        assert_eq!(
            who(Role::Enterprise, Binding::Enterprise("e".into())).scope(),
            Scope::Enterprise("e")
        );
        assert_eq!(
            who(Role::Operator, Binding::Operator("o".into())).scope(),
            Scope::Operator("o")
        );
        assert_eq!(who(Role::Regulator, Binding::Nationwide).scope(), Scope::Nothing);
        assert_eq!(
            who(Role::Enterprise, Binding::Operator("o".into())).scope(),
            Scope::Nothing
        );
    }
}
