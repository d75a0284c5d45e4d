//! The finish decision: the finish table of ARCHITECTURE.md, as one pure
//! function. Rows are evaluated in order and the first that matches wins; the
//! numbers in the comments are the table's rows.

/// What is known about a request's session when the handler has returned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Facts {
    /// A guard or extractor loaded the session.
    pub(super) loaded: bool,
    /// The response status is 5xx.
    pub(super) server_error: bool,
    /// No key but `_permanent`.
    pub(super) empty: bool,
    /// A record was read from the store for this request.
    pub(super) record_existed: bool,
    /// A cookie was sent but was invalid, badly signed or missing in the store.
    pub(super) stale_cookie: bool,
    /// `regenerate()` moved the session to a new sid.
    pub(super) regenerated: bool,
    /// The encoding changed since load (or the session is new and non-empty).
    pub(super) modified: bool,
    /// The cookie verified with a fallback key.
    pub(super) signed_with_fallback: bool,
    /// `refresh_each_request` is on.
    pub(super) refresh_each_request: bool,
    /// The session is permanent.
    pub(super) permanent: bool,
}

/// What finish does to the store and the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Plan {
    /// Nothing at all (rows 1, 2, 5, 10).
    Nothing,
    /// Delete the stored record and send a deletion cookie (row 3).
    DeleteRecord,
    /// Only a deletion cookie (row 4).
    ExpireCookie,
    /// Write under the new sid first, then delete the old record (row 6).
    SaveRegenerated,
    /// A full write and a cookie (row 7).
    Save,
    /// Only a cookie: re-signed (row 8) or with a new `Expires` (row 9).
    CookieOnly,
}

/// Picks the row of the table that applies.
pub(super) fn plan(f: Facts) -> Plan {
    if !f.loaded || f.server_error {
        return Plan::Nothing; // 1, 2
    }
    if f.empty {
        return if f.record_existed {
            Plan::DeleteRecord // 3
        } else if f.stale_cookie {
            Plan::ExpireCookie // 4
        } else {
            Plan::Nothing // 5
        };
    }
    if f.regenerated {
        return Plan::SaveRegenerated; // 6
    }
    if f.modified {
        return Plan::Save; // 7
    }
    if f.signed_with_fallback || (f.refresh_each_request && f.permanent) {
        return Plan::CookieOnly; // 8, 9
    }
    Plan::Nothing // 9 without permanent, 10
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded() -> Facts {
        Facts {
            loaded: true,
            ..Facts::default()
        }
    }

    #[test]
    fn row_1_never_loaded_does_nothing() {
        assert_eq!(
            plan(Facts {
                modified: true,
                ..Facts::default()
            }),
            Plan::Nothing
        );
    }

    #[test]
    fn row_2_server_error_persists_nothing() {
        assert_eq!(
            plan(Facts {
                server_error: true,
                modified: true,
                ..loaded()
            }),
            Plan::Nothing
        );
        assert_eq!(
            plan(Facts {
                server_error: true,
                empty: true,
                record_existed: true,
                ..loaded()
            }),
            Plan::Nothing
        );
    }

    #[test]
    fn row_3_emptied_record_is_deleted() {
        assert_eq!(
            plan(Facts {
                empty: true,
                record_existed: true,
                ..loaded()
            }),
            Plan::DeleteRecord
        );
        assert_eq!(
            plan(Facts {
                empty: true,
                record_existed: true,
                regenerated: true,
                ..loaded()
            }),
            Plan::DeleteRecord
        );
    }

    #[test]
    fn row_4_stale_cookie_is_expired() {
        assert_eq!(
            plan(Facts {
                empty: true,
                stale_cookie: true,
                ..loaded()
            }),
            Plan::ExpireCookie
        );
    }

    #[test]
    fn row_5_new_empty_session_does_nothing() {
        assert_eq!(
            plan(Facts {
                empty: true,
                refresh_each_request: true,
                permanent: true,
                ..loaded()
            }),
            Plan::Nothing
        );
    }

    #[test]
    fn row_6_regenerated_is_written_then_old_deleted() {
        assert_eq!(
            plan(Facts {
                regenerated: true,
                modified: true,
                record_existed: true,
                ..loaded()
            }),
            Plan::SaveRegenerated
        );
    }

    #[test]
    fn row_7_modified_is_written() {
        assert_eq!(
            plan(Facts {
                modified: true,
                record_existed: true,
                ..loaded()
            }),
            Plan::Save
        );
        assert_eq!(
            plan(Facts {
                modified: true,
                stale_cookie: true,
                ..loaded()
            }),
            Plan::Save
        );
    }

    #[test]
    fn row_8_fallback_key_resigns_without_a_write() {
        assert_eq!(
            plan(Facts {
                signed_with_fallback: true,
                record_existed: true,
                ..loaded()
            }),
            Plan::CookieOnly
        );
    }

    #[test]
    fn row_9_refresh_sends_a_cookie_only_when_permanent() {
        let base = Facts {
            refresh_each_request: true,
            record_existed: true,
            ..loaded()
        };
        assert_eq!(
            plan(Facts {
                permanent: true,
                ..base
            }),
            Plan::CookieOnly
        );
        assert_eq!(plan(base), Plan::Nothing);
    }

    #[test]
    fn row_10_unmodified_without_refresh_does_nothing() {
        assert_eq!(
            plan(Facts {
                record_existed: true,
                permanent: true,
                ..loaded()
            }),
            Plan::Nothing
        );
    }
}
