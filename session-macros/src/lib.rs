//! `#[derive(SessionData)]`: a struct with named fields as a typed view of the
//! session map. Use it through the `server-sessions` package, which
//! re-exports it as `server_sessions::SessionData` (feature `macros`, on by
//! default); the core package `session-core` (crate name `session`)
//! re-exports it as `session::SessionData`.
//!
//! Each field is one session key, named after the field:
//!
//! ```ignore
//! use server_sessions::{Bytes, SessionData, Timestamp};
//!
//! #[derive(SessionData)]
//! struct Account {
//!     /// Flask-Login's key.
//!     #[session(rename = "_user_id")]
//!     user_id: Option<String>,
//!     /// Missing or unreadable: `Default::default()`, here 0.
//!     visits: u32,
//!     /// Missing or unreadable: `default_theme()`.
//!     #[session(default = "default_theme")]
//!     theme: String,
//!     /// msgpack bin; `None` removes the key.
//!     avatar: Option<Bytes>,
//!     /// The msgpack timestamp extension (RFC 3339 in JSON).
//!     last_seen: Option<Timestamp>,
//!     /// Not a session key: always `Default::default()` after a read.
//!     #[session(skip)]
//!     scratch: Vec<u8>,
//! }
//!
//! fn default_theme() -> String {
//!     "light".to_owned()
//! }
//!
//! // In a handler, with the request's `Session`:
//! let mut account = session.typed::<Account>();
//! account.visits += 1; // written back when `account` is dropped
//! assert_eq!(Account::KEY_USER_ID, "_user_id");
//! assert_eq!(<Account as SessionData>::KEYS, ["_user_id", "visits", "theme", "avatar", "last_seen"]);
//! ```
//!
//! # What the generated code does
//!
//! - It reads only its own keys; every other key of the map (a Flask app's
//!   `_flashes`, `_fresh`, `csrf_token`…) is left byte for byte as it was.
//! - A missing key, or one holding a value of another type, becomes the
//!   field's default (the latter with a logged warning), so bad data never
//!   locks a user out.
//! - A field that encodes to nil (`Option::None`) removes its key.
//! - The typed view writes back only the keys whose encoding changed.
//!
//! It implements `session::SessionData` (`KEYS` in field order, skipped fields
//! left out; `from_map`; `encode_fields`) and adds an inherent constant
//! `KEY_<FIELD>` per key (`user_id` → `KEY_USER_ID`), so other code can name
//! the keys without typos.
//!
//! # Attributes
//!
//! On a field:
//! - `#[session(rename = "_user_id")]`: the session key, instead of the
//!   field's name.
//! - `#[session(default)]`: `Default::default()` for a missing or unreadable
//!   key. This is also what happens with no attribute, so **every field type
//!   must implement `Default` unless it has `default = "…"`**.
//! - `#[session(default = "path::to::function")]`: call that function, which
//!   takes nothing and returns the field's type.
//! - `#[session(skip)]`: not a session key; the field gets its default
//!   (`Default::default()` or the `default` function) on every read and is
//!   never written. It cannot be combined with `rename`.
//!
//! On the struct:
//! - `#[session(crate = "my_reexport::server_sessions")]`: where the generated
//!   code finds the crate, for crates that use it through a re-export or
//!   under another name (as serde's `crate` attribute). The default is the
//!   crate the derive was imported from: `::server_sessions` for
//!   `server_sessions::SessionData`, `::session` for the core's
//!   `session::SessionData`.
//!
//! Each non-skipped field type must implement `serde::Serialize` and
//! `serde::de::DeserializeOwned`. For a generic struct, every type
//! parameter gets `Send + 'static`, and each field type that mentions one
//! gets the serde bounds (and `Default` where that is its default).
//! Lifetime parameters are rejected: session data is owned.
//!
//! # Compile errors
//!
//! Misuse is a compile error at the offending tokens: an enum, a union, a
//! tuple or unit struct; a lifetime parameter; an unknown attribute, or any
//! attribute given twice on one struct or field ("duplicate session
//! attribute"); a value that is not a string, an empty key, a `crate` or `default`
//! string that is not a path; `skip` with `rename`; two fields on one session
//! key, or on one key constant (`a` and `A` both give `KEY_A`). One compile
//! reports every such mistake in the struct at once.
//!
//! # Layout
//!
//! As serde_derive: the attribute names (`symbol.rs`); the error collector,
//! which must be checked (`ctxt.rs`); parsing of attributes (`attr.rs`) into
//! a model of the struct and its fields (`ast.rs`); the rules about the model
//! as a whole (`check.rs`); and generation from a checked model (`expand.rs`),
//! which names the `session` crate's helpers through its hidden `__private`
//! module.

mod ast;
mod attr;
mod check;
mod ctxt;
mod expand;
mod symbol;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

use crate::ctxt::Ctxt;

/// Implements `session::SessionData` for a struct with named fields; see the
/// [crate documentation](crate) for the attributes. The generated code names
/// the core crate, `::session` (the package `session-core`).
#[proc_macro_derive(SessionData, attributes(session))]
pub fn derive_session_data(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    derive(&input, &syn::parse_quote!(::session))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// The same derive, as the facade package `server-sessions` re-exports it
/// (under the name `SessionData`): the generated code names
/// `::server_sessions`, so an app that depends on the facade alone needs no
/// other crate in scope. A derive cannot tell which path it was imported
/// through, hence a second entry point rather than a detection.
#[doc(hidden)]
#[proc_macro_derive(SessionDataViaFacade, attributes(session))]
pub fn derive_session_data_via_facade(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    derive(&input, &syn::parse_quote!(::server_sessions))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// The three stages: parse the input into a model (collecting errors), check
/// the model as a whole, and generate code from the checked model, naming
/// `default_krate` unless the struct names a crate itself.
fn derive(input: &DeriveInput, default_krate: &syn::Path) -> syn::Result<proc_macro2::TokenStream> {
    let cx = Ctxt::new();
    let container = ast::Container::from_ast(&cx, input);
    let checked = check::check(cx, container)?;
    Ok(expand::derive(&checked, default_krate))
}
