use clap::Parser;
use hwtransfer::cli::{Cli, run};
use hwtransfer::config::unknown_env_keys;

// mimalloc instead of glibc's malloc: under the filing load the server spent about a tenth of its
// CPU in malloc/free (perf, docs/BENCHMARKS.md), across the many threads of the HTTP workers and
// the database pool.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    let unknown = unknown_env_keys(std::env::vars().map(|(k, _)| k));
    if !unknown.is_empty() {
        eprintln!(
            "error: unknown setting(s) {}; see README for the HWT_ variables",
            unknown.join(", ")
        );
        return std::process::ExitCode::from(2);
    }
    let cli = Cli::parse();
    hwtransfer::telemetry::init(cli.config.log_format, &cli.config.log);
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
