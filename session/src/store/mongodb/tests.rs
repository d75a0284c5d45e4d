//! Unit tests of the MongoDB store's pure parts.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::store::StoreErrorKind;

#[test]
fn network_failures_are_unavailable_others_failed() {
    for kind in [
        std::io::ErrorKind::ConnectionRefused,
        std::io::ErrorKind::TimedOut,
    ] {
        let error = MongoError::from(std::io::Error::from(kind));
        assert_eq!(store_error("load", error).kind, StoreErrorKind::Unavailable);
    }
    let custom = MongoError::custom("something else");
    assert_eq!(store_error("load", custom).kind, StoreErrorKind::Failed);
}

#[test]
fn expirations_saturate_instead_of_overflowing() {
    let far = datetime_after(SystemTime::now(), Duration::MAX);
    assert!(far > DateTime::now());
}

#[test]
fn start_up_errors_name_the_url_without_its_password() {
    let settings = {
        let mut settings = Settings::default();
        settings.mongodb =
            session_config::ConnectionUrl::new("mongodb://ada:s3cret@db.example:27017/");
        settings
    };
    let shown = location(&settings.mongodb.redacted(), &settings);
    assert!(shown.contains("db.example:27017"), "{shown}");
    assert!(
        shown.contains("flask_session") && shown.contains("sessions"),
        "{shown}"
    );
    assert!(!shown.contains("s3cret"), "{shown}");
}

fn store_error(operation: &'static str, error: MongoError) -> StoreError {
    StoreError::classified(BACKEND, operation, is_unavailable(&error), error)
}
