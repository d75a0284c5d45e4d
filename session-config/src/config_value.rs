//! [`ConfigValue`]: a value given in code, converted to the TOML value every
//! source is reduced to.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Value;

/// A value given in code to [`crate::SettingsBuilder::set`].
///
/// It converts from strings (read with the environment syntax), integers, floats, bools,
/// `Duration`, paths, vectors (lists) and string maps (`sqlalchemy_binds`), and from a
/// `toml::Value`.
#[derive(Clone, PartialEq)]
pub struct ConfigValue(pub(crate) Value);

impl std::fmt::Debug for ConfigValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The value may be a secret: only its kind is shown.
        write!(f, "ConfigValue(<{}>)", self.0.type_str())
    }
}

impl From<Value> for ConfigValue {
    fn from(v: Value) -> Self {
        ConfigValue(v)
    }
}

impl From<toml::Table> for ConfigValue {
    fn from(t: toml::Table) -> Self {
        ConfigValue(Value::Table(t))
    }
}

impl From<&str> for ConfigValue {
    fn from(v: &str) -> Self {
        ConfigValue(Value::String(v.to_owned()))
    }
}

impl From<String> for ConfigValue {
    fn from(v: String) -> Self {
        ConfigValue(Value::String(v))
    }
}

impl From<&String> for ConfigValue {
    fn from(v: &String) -> Self {
        ConfigValue(Value::String(v.clone()))
    }
}

impl From<bool> for ConfigValue {
    fn from(v: bool) -> Self {
        ConfigValue(Value::Boolean(v))
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for ConfigValue {
            fn from(v: $t) -> Self {
                // Too big for TOML's i64: keep the digits, the parser reports the range.
                ConfigValue(i64::try_from(v).map_or_else(|_| Value::String(v.to_string()), Value::Integer))
            }
        }
    )*};
}
from_int!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl From<f64> for ConfigValue {
    fn from(v: f64) -> Self {
        ConfigValue(Value::Float(v))
    }
}

impl From<f32> for ConfigValue {
    fn from(v: f32) -> Self {
        ConfigValue(Value::Float(f64::from(v)))
    }
}

impl From<Duration> for ConfigValue {
    fn from(d: Duration) -> Self {
        if d.subsec_nanos() == 0 {
            d.as_secs().into()
        } else {
            ConfigValue(Value::Float(d.as_secs_f64()))
        }
    }
}

impl From<&Path> for ConfigValue {
    fn from(p: &Path) -> Self {
        ConfigValue(Value::String(p.to_string_lossy().into_owned()))
    }
}

impl From<PathBuf> for ConfigValue {
    fn from(p: PathBuf) -> Self {
        p.as_path().into()
    }
}

impl<T: Into<ConfigValue>> From<Vec<T>> for ConfigValue {
    fn from(v: Vec<T>) -> Self {
        ConfigValue(Value::Array(v.into_iter().map(|x| x.into().0).collect()))
    }
}

impl<T: Into<ConfigValue> + Clone> From<&[T]> for ConfigValue {
    fn from(v: &[T]) -> Self {
        ConfigValue(Value::Array(v.iter().map(|x| x.clone().into().0).collect()))
    }
}

impl<K: Into<String>, V: Into<ConfigValue>> From<BTreeMap<K, V>> for ConfigValue {
    fn from(m: BTreeMap<K, V>) -> Self {
        ConfigValue(Value::Table(
            m.into_iter().map(|(k, v)| (k.into(), v.into().0)).collect(),
        ))
    }
}

impl<K: Into<String>, V: Into<ConfigValue>> From<HashMap<K, V>> for ConfigValue {
    fn from(m: HashMap<K, V>) -> Self {
        ConfigValue(Value::Table(
            m.into_iter().map(|(k, v)| (k.into(), v.into().0)).collect(),
        ))
    }
}
