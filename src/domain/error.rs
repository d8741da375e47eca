//! The one validation error type of the domain layer.

/// One validation problem: a stable machine code and a human message (English is fine).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    /// Stable, dotted machine code such as `quantity.precision`; API clients match on it.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

impl Invalid {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_message_only() {
        let e = Invalid::new("x.y", "something is wrong");
        assert_eq!(e.to_string(), "something is wrong");
        assert_eq!(e.code, "x.y");
    }
}
