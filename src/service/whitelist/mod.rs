//! The whitelist: entries (and, as they move here, agreements and imports).

pub mod agreements;
pub mod eligible;
pub mod entries;
pub mod entry_views;
pub mod import;
pub mod list;
pub mod proposals;
pub mod versions;
