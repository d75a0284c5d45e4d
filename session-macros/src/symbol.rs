//! The attribute names the derive knows, in one place (serde_derive's
//! `symbol.rs`): `#[session(crate = "…")]` on the struct, `rename`, `default`
//! and `skip` on fields.

use std::fmt::{self, Display};

use syn::{Ident, Path};

/// An attribute name, comparable with the [`struct@Ident`] or [`Path`] it is
/// written as.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Symbol(&'static str);

/// The attribute itself: `#[session(...)]`.
pub(crate) const SESSION: Symbol = Symbol("session");
/// `#[session(crate = "path")]` on the struct.
pub(crate) const CRATE: Symbol = Symbol("crate");
/// `#[session(rename = "key")]` on a field.
pub(crate) const RENAME: Symbol = Symbol("rename");
/// `#[session(default)]` or `#[session(default = "path")]` on a field.
pub(crate) const DEFAULT: Symbol = Symbol("default");
/// `#[session(skip)]` on a field.
pub(crate) const SKIP: Symbol = Symbol("skip");

/// The attributes a field accepts, in the order messages list them.
pub(crate) const FIELD_ATTRIBUTES: [Symbol; 3] = [RENAME, DEFAULT, SKIP];

impl Symbol {
    /// The name as written.
    pub(crate) const fn as_str(self) -> &'static str {
        self.0
    }
}

impl PartialEq<Symbol> for Ident {
    fn eq(&self, word: &Symbol) -> bool {
        self == word.0
    }
}

impl PartialEq<Symbol> for &Ident {
    fn eq(&self, word: &Symbol) -> bool {
        *self == word.0
    }
}

impl PartialEq<Symbol> for Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl PartialEq<Symbol> for &Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl Display for Symbol {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.0)
    }
}
