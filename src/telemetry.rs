//! Structured logging with `tracing`: pretty for development, JSON lines in production.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal;
    let colour = use_colour(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR").is_some());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    // A second init (tests) is harmless: the first subscriber stays.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// Pretty logs are coloured only on a terminal (a file, a pipe or a log collector gets plain
/// text), and never when `NO_COLOR` is set.
pub fn use_colour(stderr_is_terminal: bool, no_color: bool) -> bool {
    stderr_is_terminal && !no_color
}

tokio::task_local! {
    /// The id of the request this task serves; set by the HTTP door's middleware, read by the
    /// audit context and the problem documents.
    pub static REQUEST_ID: String;
}

/// The header that carries the request id in and out.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the request being handled on this task, or "" outside a request.
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(|id| id.clone()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(super::use_colour(true, false));
        assert!(!super::use_colour(false, false));
        assert!(!super::use_colour(true, true));
    }
}
