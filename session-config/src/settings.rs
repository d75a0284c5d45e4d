//! The validated settings object and the types of its fields. Settings that a
//! loader built are already checked; settings built or changed in code are
//! checked by [`Settings::validate`], which a `SessionManager` calls.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::redact::redact_value;

/// Which store backs the sessions (`SESSION_TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionType {
    /// Sessions are disabled: reads are empty and a write is an error.
    Null,
    /// In-process memory, for tests and development.
    Memory,
    /// Redis, single node or Cluster.
    Redis,
    /// memcached.
    Memcached,
    /// Files in `file_dir`.
    Filesystem,
    /// MongoDB.
    MongoDb,
    /// SQL through sqlx (`sqlalchemy`, alias `sql`).
    SqlAlchemy,
}

/// How the session map is encoded in the store (`SESSION_SERIALIZATION_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SerializationFormat {
    /// msgspec-compatible msgpack (the default).
    #[default]
    MsgPack,
    /// Compact JSON.
    Json,
}

/// What a store with a size limit (the memory store's capacity, the filesystem
/// store's `file_threshold`) does when a new session would pass it, once
/// expired sessions are pruned (`SESSION_WHEN_FULL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum WhenFull {
    /// Refuse the new session (HTTP 503, and a warning naming the limit's
    /// key): a live session is never evicted to make room, so a flood of
    /// anonymous requests cannot log users out. The default.
    #[default]
    Refuse,
    /// Evict the oldest live session to make room, as Flask-Session's
    /// cachelib stores do.
    EvictOldest,
}

/// How a session loaded from an existing record is written back
/// (`SESSION_WRITE_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum WriteMode {
    /// Replace the record only if it is still the one this request loaded;
    /// otherwise merge this request's changes, key by key, onto the current
    /// record, and drop them when the session was ended meanwhile. The
    /// default: concurrent requests never lose each other's changes, and an
    /// ended session never comes back.
    #[default]
    Merge,
    /// Write the whole record, last writer wins: Flask-Session's behaviour.
    Overwrite,
}

impl WriteMode {
    /// The spelling used in `SESSION_WRITE_MODE` (`merge` or `overwrite`).
    pub const fn as_str(self) -> &'static str {
        match self {
            WriteMode::Merge => "merge",
            WriteMode::Overwrite => "overwrite",
        }
    }
}

impl fmt::Display for WriteMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `SameSite` cookie attribute. Its `Display` is the attribute value (`Lax`, `Strict`, `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SameSite {
    /// `SameSite=Lax`
    Lax,
    /// `SameSite=Strict`
    Strict,
    /// `SameSite=None` (requires `Secure`).
    None,
}

/// A secret key. Its `Debug` and `Display` never show the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// A connection URL whose `Display`/`Debug` redacts the password.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionUrl(String);

/// A safe SQL identifier: `[A-Za-z_][A-Za-z0-9_]{0,62}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SqlIdentifier(String);

/// Number of random bytes in a new session id: 16..=128.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdLength(u8);

/// A unix file mode such as `0o600`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileMode(u32);

/// Cookie settings (`SESSION_COOKIE_*`). Build them from
/// `Settings::default().cookie` and set the fields that differ: more may
/// come.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CookieSettings {
    /// `SESSION_COOKIE_NAME`, default `session`.
    pub name: String,
    /// `SESSION_COOKIE_DOMAIN`, default none.
    pub domain: Option<String>,
    /// `SESSION_COOKIE_PATH`, default `/`.
    pub path: String,
    /// `SESSION_COOKIE_HTTPONLY`, default true.
    pub http_only: bool,
    /// `SESSION_COOKIE_SECURE`, default false.
    pub secure: bool,
    /// `SESSION_COOKIE_SAMESITE`, default `Lax`; `None` here means "no attribute".
    pub same_site: Option<SameSite>,
    /// `SESSION_COOKIE_PARTITIONED`, default false.
    pub partitioned: bool,
}

/// Every setting. Settings a loader built are validated; in code, start
/// from [`Settings::default`] (or a load) and set the fields that differ, as
/// `let mut settings = Settings::default(); settings.permanent = false;`:
/// more settings will come, so the struct cannot be built field by field
/// outside this crate. A `SessionManager` validates what it is given.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Settings {
    /// `SESSION_TYPE`
    pub session_type: SessionType,
    /// `SESSION_PERMANENT`
    pub permanent: bool,
    /// `SESSION_USE_SIGNER`
    pub use_signer: bool,
    /// `SESSION_KEY_PREFIX`
    pub key_prefix: String,
    /// `SESSION_ID_LENGTH`
    pub id_length: IdLength,
    /// `SESSION_SERIALIZATION_FORMAT`
    pub serialization_format: SerializationFormat,
    /// `SESSION_REFRESH_EACH_REQUEST`
    pub refresh_each_request: bool,
    /// `SESSION_CLEANUP_N_REQUESTS`
    pub cleanup_n_requests: Option<u32>,
    /// `PERMANENT_SESSION_LIFETIME` (> 0)
    pub permanent_session_lifetime: Duration,
    /// `SECRET_KEY`
    pub secret_key: Option<Secret>,
    /// `SECRET_KEY_FALLBACKS`
    pub secret_key_fallbacks: Vec<Secret>,
    /// `SESSION_COOKIE_*`
    pub cookie: CookieSettings,
    /// `SESSION_REDIS`: one URL, or several for a Cluster.
    pub redis: Vec<ConnectionUrl>,
    /// `SESSION_REDIS_SENTINELS`: the URLs of the Sentinels that watch the
    /// Redis master. When set, the Redis store asks them for the master (and
    /// again after a failover) and `redis` is not used.
    pub redis_sentinels: Vec<ConnectionUrl>,
    /// `SESSION_REDIS_SENTINEL_MASTER`: the name the Sentinels know the
    /// master by (`sentinel monitor <name> …`); required with
    /// `redis_sentinels`.
    pub redis_sentinel_master: Option<String>,
    /// `SESSION_REDIS_SENTINEL_PASSWORD`: the password of the Sentinels, for
    /// each sentinel URL that carries none of its own.
    pub redis_sentinel_password: Option<Secret>,
    /// `SESSION_REDIS_SENTINEL_MASTER_PASSWORD`: the password of the master
    /// (and its replicas) the Sentinels name; none by default.
    pub redis_sentinel_master_password: Option<Secret>,
    /// `SESSION_MEMCACHED`: `host:port` servers.
    pub memcached: Vec<String>,
    /// `SESSION_FILE_DIR`
    pub file_dir: PathBuf,
    /// `SESSION_FILE_THRESHOLD`
    pub file_threshold: usize,
    /// `SESSION_FILE_MODE`
    pub file_mode: FileMode,
    /// `SESSION_WHEN_FULL`: what a store with a size limit does when a new
    /// session would pass it.
    pub when_full: WhenFull,
    /// `SESSION_MONGODB`
    pub mongodb: ConnectionUrl,
    /// `SESSION_MONGODB_DB`
    pub mongodb_db: String,
    /// `SESSION_MONGODB_COLLECT`
    pub mongodb_collect: String,
    /// `SESSION_SQLALCHEMY`
    pub sqlalchemy: ConnectionUrl,
    /// `SESSION_SQLALCHEMY_TABLE`
    pub sqlalchemy_table: SqlIdentifier,
    /// `SESSION_SQLALCHEMY_SEQUENCE`
    pub sqlalchemy_sequence: Option<SqlIdentifier>,
    /// `SESSION_SQLALCHEMY_SCHEMA`
    pub sqlalchemy_schema: Option<SqlIdentifier>,
    /// `SESSION_SQLALCHEMY_BIND_KEY`
    pub sqlalchemy_bind_key: Option<String>,
    /// `SESSION_SQLALCHEMY_BINDS`
    pub sqlalchemy_binds: BTreeMap<String, ConnectionUrl>,
    /// `SESSION_SQLALCHEMY_CREATE_TABLE`
    pub sqlalchemy_create_table: bool,
    /// `SESSION_CLEANUP_INTERVAL`: the period of the background removal of
    /// expired records by stores that do not expire them by themselves (SQL,
    /// filesystem); default one hour, `None` turns it off.
    pub cleanup_interval: Option<Duration>,
    /// `SESSION_REFRESH_THRESHOLD` (0.0..=1.0)
    pub refresh_threshold: f64,
    /// `SESSION_MAX_SESSION_BYTES`
    pub max_session_bytes: usize,
    /// `SESSION_WRITE_MODE`: merge concurrent writes (default) or overwrite.
    pub write_mode: WriteMode,
    /// `SESSION_OWNER_KEY`: the session key that holds the logged-in owner;
    /// default `_user_id`, Flask-Login's.
    pub owner_key: String,
    /// `SESSION_ABSOLUTE_LIFETIME`: how long a session lives from its start
    /// (its creation, or its last login) however active it is; default none.
    pub absolute_lifetime: Option<Duration>,
    /// `SESSION_HEADER_NAME`: the request and response header that carries
    /// the sid for clients without a cookie jar (API and mobile clients),
    /// such as `X-Session-Id`; `None` (the default) turns header transport
    /// off. A request that carries the header uses it instead of the cookie;
    /// one without it is a cookie request as before.
    pub header_name: Option<String>,
    /// `SESSION_CONNECT_TIMEOUT`; at most 24 days.
    pub connect_timeout: Duration,
    /// `SESSION_OPERATION_TIMEOUT`; at most 24 days.
    pub operation_timeout: Duration,
    /// `SESSION_POOL_SIZE`; 1 to 10,000 when set. The SQL, MongoDB and
    /// memcached pools' size; unset means the backend's default. Redis
    /// ignores it.
    pub pool_size: Option<u32>,
}

impl SessionType {
    /// The spelling used in `SESSION_TYPE` / `type` (`null`, `memory`, `redis`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            SessionType::Null => "null",
            SessionType::Memory => "memory",
            SessionType::Redis => "redis",
            SessionType::Memcached => "memcached",
            SessionType::Filesystem => "filesystem",
            SessionType::MongoDb => "mongodb",
            SessionType::SqlAlchemy => "sqlalchemy",
        }
    }
}

impl fmt::Display for SessionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl SerializationFormat {
    /// The spelling used in `SESSION_SERIALIZATION_FORMAT` (`msgpack` or `json`).
    pub const fn as_str(self) -> &'static str {
        match self {
            SerializationFormat::MsgPack => "msgpack",
            SerializationFormat::Json => "json",
        }
    }
}

impl fmt::Display for SerializationFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl WhenFull {
    /// The spelling used in `SESSION_WHEN_FULL` (`refuse` or `evict_oldest`).
    pub const fn as_str(self) -> &'static str {
        match self {
            WhenFull::Refuse => "refuse",
            WhenFull::EvictOldest => "evict_oldest",
        }
    }
}

impl fmt::Display for WhenFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl SameSite {
    /// The attribute value: `Lax`, `Strict` or `None`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
            SameSite::None => "None",
        }
    }
}

impl fmt::Display for SameSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Secret {
    /// Wraps a secret key. Any string is accepted; a short one only warns at load time.
    pub fn new(secret: impl Into<String>) -> Self {
        Secret(secret.into())
    }

    /// The secret itself. Never log or display the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl ConnectionUrl {
    /// Wraps a URL. The scheme is checked per setting when settings are validated
    /// (`Settings::validate`, or any loader), not here.
    pub fn new(url: impl Into<String>) -> Self {
        ConnectionUrl(url.into())
    }

    /// The full URL, password included: for handing to a client library only.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL with its password (and any `password=` query parameter) replaced by `***`.
    pub fn redacted(&self) -> String {
        redact_value(&self.0)
    }
}

impl fmt::Debug for ConnectionUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnectionUrl({:?})", self.redacted())
    }
}

impl fmt::Display for ConnectionUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl SqlIdentifier {
    /// Accepts `[A-Za-z_][A-Za-z0-9_]{0,62}` (safe unquoted on PostgreSQL, MySQL and SQLite);
    /// anything else is `None`.
    pub fn new(ident: impl Into<String>) -> Option<Self> {
        let ident = ident.into();
        let mut chars = ident.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        (first_ok && rest_ok && ident.len() <= 63).then_some(SqlIdentifier(ident))
    }

    /// The identifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SqlIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl IdLength {
    /// The smallest accepted length, in bytes.
    pub const MIN: usize = 16;
    /// The largest accepted length, in bytes.
    pub const MAX: usize = 128;

    /// A length in bytes, if it is within 16..=128.
    pub fn new(bytes: usize) -> Option<Self> {
        if (Self::MIN..=Self::MAX).contains(&bytes) {
            u8::try_from(bytes).ok().map(IdLength)
        } else {
            None
        }
    }

    /// The number of random bytes.
    pub fn get(self) -> usize {
        usize::from(self.0)
    }

    /// Length of the sid this produces: base64url without padding, `ceil(4 * n / 3)`
    /// characters (32 bytes give 43).
    pub fn sid_chars(self) -> usize {
        (4 * self.get()).div_ceil(3)
    }
}

impl Default for IdLength {
    fn default() -> Self {
        IdLength(32)
    }
}

impl FileMode {
    /// The largest accepted mode, `0o777`.
    pub const MAX: u32 = 0o777;

    /// A mode, if it is at most `0o777`.
    pub fn new(mode: u32) -> Option<Self> {
        (mode <= Self::MAX).then_some(FileMode(mode))
    }

    /// The mode bits.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for FileMode {
    fn default() -> Self {
        FileMode(0o600)
    }
}

impl fmt::Display for FileMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0{:o}", self.0)
    }
}

impl Default for CookieSettings {
    fn default() -> Self {
        CookieSettings {
            name: "session".to_owned(),
            domain: None,
            path: "/".to_owned(),
            http_only: true,
            secure: false,
            same_site: Some(SameSite::Lax),
            partitioned: false,
        }
    }
}

/// One hour between background cleanups of stores that keep expired records.
const DEFAULT_CLEANUP_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// 31 days, Flask's `PERMANENT_SESSION_LIFETIME`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(31 * 24 * 60 * 60);

impl Default for Settings {
    /// The built-in defaults (`type = "null"`); they pass validation.
    fn default() -> Self {
        Settings {
            session_type: SessionType::Null,
            permanent: true,
            use_signer: false,
            key_prefix: "session:".to_owned(),
            id_length: IdLength::default(),
            serialization_format: SerializationFormat::MsgPack,
            refresh_each_request: true,
            cleanup_n_requests: None,
            permanent_session_lifetime: DEFAULT_LIFETIME,
            secret_key: None,
            secret_key_fallbacks: Vec::new(),
            cookie: CookieSettings::default(),
            redis: vec![ConnectionUrl::new("redis://127.0.0.1:6379")],
            redis_sentinels: Vec::new(),
            redis_sentinel_master: None,
            redis_sentinel_password: None,
            redis_sentinel_master_password: None,
            memcached: vec!["127.0.0.1:11211".to_owned()],
            file_dir: PathBuf::from("./flask_session"),
            file_threshold: 500,
            file_mode: FileMode::default(),
            when_full: WhenFull::Refuse,
            mongodb: ConnectionUrl::new("mongodb://127.0.0.1:27017"),
            mongodb_db: "flask_session".to_owned(),
            mongodb_collect: "sessions".to_owned(),
            sqlalchemy: ConnectionUrl::new("sqlite://flask_session.db?mode=rwc"),
            sqlalchemy_table: SqlIdentifier("sessions".to_owned()),
            sqlalchemy_sequence: None,
            sqlalchemy_schema: None,
            sqlalchemy_bind_key: None,
            sqlalchemy_binds: BTreeMap::new(),
            sqlalchemy_create_table: true,
            cleanup_interval: Some(DEFAULT_CLEANUP_INTERVAL),
            refresh_threshold: 0.8,
            max_session_bytes: 64 * 1024,
            write_mode: WriteMode::Merge,
            owner_key: "_user_id".to_owned(),
            absolute_lifetime: None,
            header_name: None,
            connect_timeout: Duration::from_secs(2),
            operation_timeout: Duration::from_secs(1),
            pool_size: None,
        }
    }
}
