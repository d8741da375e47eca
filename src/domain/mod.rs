//! Pure domain layer: identifiers, quantities, the hazardous-waste catalogue and the
//! working-day calendar. No I/O beyond the reference data embedded at compile time.

/// Serializes a value as its `Display` string and deserializes it from a string through
/// `FromStr`, so every boundary (JSON, CSV, query strings) applies the same validation.
macro_rules! serde_via_string {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(d)?;
                text.parse::<$t>().map_err(serde::de::Error::custom)
            }
        }
    };
}

pub mod calendar;
pub mod catalogue;
pub mod credentials;
pub mod documents;
pub mod error;
pub mod ids;
pub mod manifest;
pub mod network;
pub mod parties;
pub mod province;
pub mod quantity;
pub mod report;
pub mod statutory;
pub mod whitelist;
pub mod workflow;

pub use error::Invalid;
