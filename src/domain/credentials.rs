//! The rules of people's credentials (等保 2.0 level 3, GB/T 22239-2019 8.1.4.1 身份鉴别): what a
//! password must be, how many earlier ones it may not repeat, and how long a lockout lasts after
//! repeated failed sign-ins. Pure: the service applies them, the store keeps the state.

use chrono::Duration;

use super::Invalid;

/// Shortest password, in characters. 等保 assessments expect "complexity" without fixing a
/// length; 12 characters with three character classes is what the national and the usual
/// provincial assessment guides accept for level 3.
pub const MIN_LENGTH: usize = 12;
/// Longest password, in characters (argon2 would take any, a limit keeps requests small).
pub const MAX_LENGTH: usize = 1024;
/// Character classes (lower case, upper case, digits, anything else) a password must mix.
pub const MIN_CLASSES: usize = 3;
/// A new password may not be any of this many most recent ones (the current one included).
pub const HISTORY: usize = 5;

/// Every rule a new password of `username` breaks; empty when it is acceptable. Whether it
/// repeats an earlier password is the service's check (it needs the stored hashes).
pub fn password_problems(password: &str, username: &str) -> Vec<Invalid> {
    let mut problems = Vec::new();
    let length = password.chars().count();
    if !(MIN_LENGTH..=MAX_LENGTH).contains(&length) {
        problems.push(Invalid::new(
            "password.length",
            format!("the password must be {MIN_LENGTH} to {MAX_LENGTH} characters"),
        ));
    }
    if classes(password) < MIN_CLASSES {
        problems.push(Invalid::new(
            "password.classes",
            "the password must mix at least three of: lower-case letters, upper-case letters, digits, other characters",
        ));
    }
    if !username.is_empty() && password.trim().eq_ignore_ascii_case(username.trim()) {
        problems.push(Invalid::new(
            "password.username",
            "the password must not be the username",
        ));
    }
    problems
}

/// How many of the four character classes `password` uses.
fn classes(password: &str) -> usize {
    let has = |f: fn(&char) -> bool| password.chars().any(|c| f(&c));
    [
        has(|c| c.is_lowercase()),
        has(|c| c.is_uppercase()),
        has(|c| c.is_ascii_digit()),
        has(|c| !c.is_alphanumeric()),
    ]
    .into_iter()
    .filter(|h| *h)
    .count()
}

/// The message of a new password that repeats one of the last [`HISTORY`].
pub fn reused() -> Invalid {
    Invalid::new(
        "password.reused",
        format!("the password must differ from the last {HISTORY} passwords of the account"),
    )
}

/// The longest lockout.
pub const LOCKOUT_MAX_SECS: i64 = 24 * 3600;
/// Each further lockout of one account (or address) lasts this many times the one before.
pub const LOCKOUT_GROWTH: i64 = 4;
/// A key whose last lockout ended longer ago than this starts the ladder again.
pub const LOCKOUT_MEMORY_SECS: i64 = 24 * 3600;

/// The length of the `n`-th lockout (1 for the first) when the first lasts `first`: `first`,
/// then four times longer each time, at most a day. With the default 15 minutes: 15 min, 1 h,
/// 4 h, 16 h, 24 h, 24 h, …
pub fn lockout_length(first: Duration, n: i32) -> Duration {
    let mut secs = first.num_seconds().max(1);
    for _ in 1..n.max(1) {
        secs = secs.saturating_mul(LOCKOUT_GROWTH);
        if secs >= LOCKOUT_MAX_SECS {
            break;
        }
    }
    Duration::seconds(secs.min(LOCKOUT_MAX_SECS.max(first.num_seconds())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(p: &str, u: &str) -> Vec<&'static str> {
        password_problems(p, u).into_iter().map(|i| i.code).collect()
    }

    #[test]
    fn length_classes_and_username() {
        assert!(codes("test-password-123", "admin").is_empty());
        assert!(codes("Correct horse battery", "admin").is_empty());
        assert!(
            codes("废物转移-Whitelist", "admin").is_empty(),
            "other scripts count as letters or others"
        );
        assert_eq!(codes("Short-1a", "x"), vec!["password.length"]);
        assert_eq!(codes("alllowercaseletters", "x"), vec!["password.classes"]);
        assert_eq!(codes("lowercase-and-symbols", "x"), vec!["password.classes"]);
        assert!(codes("lowercase-and-symbols-1", "x").is_empty());
        assert_eq!(codes("lowercaseanddigits123", "x"), vec!["password.classes"]);
        assert_eq!(codes("Admin.Person.1", "admin.person.1"), vec!["password.username"]);
        assert_eq!(
            codes("abc", "abc"),
            vec!["password.length", "password.classes", "password.username"]
        );
        assert_eq!(codes(&"aA1-".repeat(257), "x"), vec!["password.length"]);
    }

    #[test]
    fn lockouts_grow_to_a_day() {
        let first = Duration::minutes(15);
        let minutes: Vec<i64> = (1..=6).map(|n| lockout_length(first, n).num_minutes()).collect();
        assert_eq!(minutes, vec![15, 60, 240, 960, 1440, 1440]);
        assert_eq!(lockout_length(first, 0), first);
        assert_eq!(lockout_length(Duration::seconds(1), 3), Duration::seconds(16));
        assert_eq!(lockout_length(first, i32::MAX).num_hours(), 24);
    }
}
