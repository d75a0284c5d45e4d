//! The command line, as clap reads it. `--help` is built from these doc
//! comments, so they speak to the operator.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The exit codes, shown at the end of `--help` (README, "Operating it: sessionctl").
const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  not found: no such session (show), no such session of the owner (revoke)
  2  usage: the arguments are wrong (a handle that is not 32 hex digits too)
  3  the configuration is invalid (the message names the key and its source)
  4  the backend failed: unreachable, or it answered with an error";

/// Operate server-side sessions: check the settings, ping the store, remove
/// expired sessions, look at one session, list and end a user's sessions.
///
/// Settings are read exactly as an app reads them: `./Session.toml` (or the
/// file named by SESSION_CONFIG, or by --config), then the SESSION_*
/// environment variables.
#[derive(Debug, Parser)]
#[command(name = "sessionctl", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// Read this file instead of ./Session.toml (it must exist).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Print one JSON document on standard output, for scripts.
    #[arg(long, global = true)]
    pub json: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the settings, then print each one in effect with its source
    /// (default, file and key, or the environment variable); secrets and URL
    /// passwords are redacted.
    Check,
    /// Build the store and make one round trip: the backend, the server's
    /// version where it tells, and the latency.
    Ping,
    /// Remove expired sessions now and print how many (a no-op on backends
    /// that expire records themselves: Redis, memcached, MongoDB).
    Cleanup,
    /// Print one session as JSON (bytes as base64, timestamps as RFC 3339).
    Show(Show),
    /// List an owner's live sessions (the owner is what the app keeps under
    /// owner_key): a handle for each, when it was logged in and when it
    /// expires. The sids are never shown.
    Sessions(Sessions),
    /// End one session of an owner (by the handle `sessions` lists), or all
    /// of them; a request that still holds an ended session cannot bring it
    /// back.
    Revoke(Revoke),
}

/// `show <sid>`.
#[derive(Debug, Args)]
pub struct Show {
    /// The session id, or the session cookie's value (signed when use_signer
    /// is on). It may start with `-` (base64url does).
    #[arg(allow_hyphen_values = true)]
    pub sid: String,
}

/// `sessions <owner>`.
#[derive(Debug, Args)]
pub struct Sessions {
    /// The owner, as the app stores it under owner_key (e.g. a user id).
    #[arg(allow_hyphen_values = true)]
    pub owner: String,
}

/// `revoke <owner> (--all | <handle>)`.
#[derive(Debug, Args)]
pub struct Revoke {
    /// The owner, as the app stores it under owner_key.
    #[arg(allow_hyphen_values = true)]
    pub owner: String,
    /// The handle of the session to end, as `sessions` lists it.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub handle: Option<String>,
    /// End every session of the owner.
    #[arg(long)]
    pub all: bool,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command};

    /// A sid is base64url, so one in 64 starts with `-`; clap must take it
    /// as the value it is, not as an unknown flag.
    #[test]
    fn a_sid_or_owner_starting_with_a_hyphen_is_a_value() {
        let cli = Cli::try_parse_from(["sessionctl", "show", "-Habc", "--json"]).unwrap();
        assert!(matches!(&cli.command, Command::Show(show) if show.sid == "-Habc"));
        assert!(cli.json);

        let cli = Cli::try_parse_from(["sessionctl", "sessions", "-7"]).unwrap();
        assert!(matches!(&cli.command, Command::Sessions(s) if s.owner == "-7"));

        let cli = Cli::try_parse_from(["sessionctl", "revoke", "-7", "--all"]).unwrap();
        assert!(matches!(&cli.command, Command::Revoke(r) if r.owner == "-7" && r.all));
    }

    /// Flags before the value keep their meaning.
    #[test]
    fn flags_before_a_value_are_still_flags() {
        let cli = Cli::try_parse_from(["sessionctl", "show", "--json", "abc"]).unwrap();
        assert!(matches!(&cli.command, Command::Show(show) if show.sid == "abc"));
        assert!(cli.json);
    }
}
