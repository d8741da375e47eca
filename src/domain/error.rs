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

/// A free text of at most `max` characters: trimmed, not empty, no control characters (the rule
/// of every reason, note and name a person types).
pub fn text(s: &str, max: usize) -> Result<String, Invalid> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > max || t.chars().any(char::is_control) {
        Err(Invalid::new(
            "body.text",
            format!("must be 1 to {max} characters without control characters"),
        ))
    } else {
        Ok(t.to_string())
    }
}

/// [`text`] as a regular expression for the published contract.
pub fn text_pattern(max: usize) -> String {
    let inner = max.saturating_sub(2);
    format!(r"^\s*[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]{{0,{inner}}}[^\s\x00-\x1f\x7f-\x9f])?\s*$")
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
