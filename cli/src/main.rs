//! `sessionctl`: operate server-side sessions from a shell or cron. It reads
//! the settings exactly as an app does, so what it checks, pings and cleans
//! is what the app uses.

mod args;
mod commands;
mod failure;
mod report;
mod settings;
mod store;

use std::process::ExitCode;

use clap::Parser;
use serde_json::json;

use crate::args::{Cli, Command};
use crate::failure::Failure;
use crate::report::Report;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run(&cli)),
        Err(error) => Err(Failure::Backend(format!(
            "could not start the async runtime: {error}"
        ))),
    };
    match outcome {
        Ok(report) => {
            if cli.json {
                emit(&format!("{}\n", report.json));
            } else {
                emit(&report.text);
            }
            ExitCode::SUCCESS
        }
        Err(failure) => {
            if cli.json {
                let error =
                    json!({ "error": { "kind": failure.kind(), "message": failure.message() } });
                emit(&format!("{error}\n"));
            }
            eprintln!("sessionctl: {}", failure.message());
            failure.exit_code()
        }
    }
}

/// Writes `text` to stdout. A reader that went away (`sessionctl sessions
/// ada | head -1`) is not an error of the command: `print!` would panic on
/// the broken pipe; this stops writing.
fn emit(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

async fn run(cli: &Cli) -> Result<Report, Failure> {
    let loaded = settings::load(cli.config.as_deref())?;
    let settings = &loaded.settings;
    match &cli.command {
        Command::Check => Ok(commands::check::run(&loaded)),
        Command::Ping => commands::ping::run(settings).await,
        Command::Cleanup => commands::cleanup::run(settings).await,
        Command::Show(show) => commands::show::run(settings, &show.sid).await,
        Command::Sessions(args) => commands::owner::sessions(settings, &args.owner).await,
        Command::Revoke(args) => commands::owner::revoke(settings, args).await,
    }
}
