//! `sessions <owner>` and `revoke <owner> (--all | <handle>)`: the owner
//! index (design §12), through the manager. Sessions are named by their
//! handles, never by their sids.

use std::time::SystemTime;

use serde_json::{json, Value};
use session::owner::SessionHandle;
use session_config::Settings;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::args::Revoke;
use crate::failure::Failure;
use crate::report::Report;
use crate::store;

/// Lists the live sessions of `owner`.
pub async fn sessions(settings: &Settings, owner: &str) -> Result<Report, Failure> {
    let (built, manager) = store::manager(settings).await?;
    let listed = manager
        .sessions_of(owner)
        .await
        .map_err(|error| store::failed(&built, &error))?;
    let mut text = format!(
        "{} live session{} of this owner in the {} store at {}\n",
        listed.len(),
        plural(listed.len()),
        built.store.backend(),
        built.location
    );
    for session in &listed {
        text.push_str(&format!(
            "{}  logged in {}  expires {}\n",
            session.handle,
            rfc3339(session.created).unwrap_or_else(|| "unknown".to_owned()),
            rfc3339(session.expires).unwrap_or_else(|| "unknown".to_owned()),
        ));
    }
    let sessions: Vec<Value> = listed
        .iter()
        .map(|session| {
            json!({
                "handle": session.handle.to_string(),
                "created": rfc3339(session.created),
                "expires": rfc3339(session.expires),
            })
        })
        .collect();
    Ok(Report {
        text,
        json: json!({
            "backend": built.store.backend(),
            "location": built.location,
            "sessions": sessions,
        }),
    })
}

/// Ends one session of the owner, or all of them.
pub async fn revoke(settings: &Settings, args: &Revoke) -> Result<Report, Failure> {
    // A bad handle is a usage error, found before any connection is made.
    let handle = match (&args.handle, args.all) {
        (Some(text), false) => Some(text.parse::<SessionHandle>().map_err(|error| {
            Failure::Usage(format!("{text:?} is not a session handle: {error}"))
        })?),
        _ => None,
    };
    let (built, manager) = store::manager(settings).await?;
    let failed = |error| store::failed(&built, &error);
    let ended = match &handle {
        None => manager.revoke_all(&args.owner).await.map_err(failed)?,
        Some(handle) => {
            if !manager.revoke(&args.owner, handle).await.map_err(failed)? {
                return Err(Failure::NotFound(format!(
                    "the owner has no live session with handle {handle} in the {} store at {}",
                    built.store.backend(),
                    built.location
                )));
            }
            1
        }
    };
    Ok(Report {
        text: format!("ended {ended} session{}\n", plural(ended)),
        json: json!({
            "backend": built.store.backend(),
            "location": built.location,
            "ended": ended,
        }),
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `at` as RFC 3339; `None` for a time RFC 3339 cannot show (a stored time
/// past the year 9999: `OffsetDateTime::from(SystemTime)` would panic on it).
fn rfc3339(at: Option<SystemTime>) -> Option<String> {
    let nanos = match at?.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => i128::try_from(after.as_nanos()).ok()?,
        Err(before) => i128::try_from(before.duration().as_nanos())
            .ok()?
            .checked_neg()?,
    };
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()?
        .format(&Rfc3339)
        .ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_time_rfc3339_cannot_show_is_unknown_not_a_panic() {
        // Past what `time` can hold (year 9999, or 999,999 with its large
        // dates): an index value a store kept as it was written.
        let far = SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 50);
        assert_eq!(rfc3339(Some(far)), None);
        let far = SystemTime::UNIX_EPOCH + Duration::from_secs(300_000_000_000);
        assert_eq!(rfc3339(Some(far)), None);
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        assert_eq!(
            rfc3339(Some(at)).as_deref(),
            Some("2023-11-14T22:13:20.25Z")
        );
        assert_eq!(rfc3339(None), None);
    }
}
