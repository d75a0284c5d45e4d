//! `ping` on Redis: `INFO server`, which tells the version in the same round
//! trip (a Cluster answers for each node; the first version found is shown).

use ::redis::aio::ConnectionLike;
use ::redis::Value;

use super::{RedisStore, Request};
use crate::store::StoreError;

impl<C> RedisStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    /// The `redis_version` of `INFO server`.
    pub(super) async fn server_version(&self) -> Result<Option<String>, StoreError> {
        let mut info = ::redis::cmd("INFO");
        info.arg("server");
        let reply: Value = self.run("ping", Request::Cmd(&info)).await?;
        Ok(version_in(&reply))
    }
}

/// The `redis_version:` line of an `INFO` reply, in whatever shape it came:
/// text for one server, a map or list of texts for a Cluster.
fn version_in(reply: &Value) -> Option<String> {
    let from_text = |text: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix("redis_version:"))
            .map(|version| version.trim().to_owned())
    };
    match reply {
        Value::BulkString(bytes) => from_text(&String::from_utf8_lossy(bytes)),
        Value::SimpleString(text) | Value::VerbatimString { text, .. } => from_text(text),
        Value::Array(items) | Value::Set(items) => items.iter().find_map(version_in),
        Value::Map(pairs) => pairs.iter().find_map(|(_, value)| version_in(value)),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_version_in_one_or_many_replies() {
        let one = Value::BulkString(
            b"# Server\r\nredis_version:7.2.4\r\nredis_mode:standalone\r\n".to_vec(),
        );
        assert_eq!(version_in(&one).as_deref(), Some("7.2.4"));
        let many = Value::Map(vec![(
            Value::SimpleString("127.0.0.1:7000".into()),
            Value::VerbatimString {
                format: ::redis::VerbatimFormat::Text,
                text: "redis_version:7.0.1\n".into(),
            },
        )]);
        assert_eq!(version_in(&many).as_deref(), Some("7.0.1"));
        assert_eq!(version_in(&Value::Nil), None);
    }
}
