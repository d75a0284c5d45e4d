//! `sessions <owner>` and `revoke <owner>`: the owner index (design §12).
//! This build's `session` crate has no owner index yet, so both say so.

use crate::failure::Failure;

/// What `sessions` and `revoke` answer until the owner index is in `session`.
pub fn unavailable() -> Failure {
    Failure::Unsupported(
        "the owner index is not available in this build of sessionctl: listing and revoking an owner's sessions need a `session` crate with SessionManager::sessions_of".to_owned(),
    )
}
