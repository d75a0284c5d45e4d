//! The check stage: rules about the parsed model as a whole, before any code
//! is generated (serde_derive's `check.rs`). Only [`check`] makes a
//! [`Checked`] model, and only when the whole input is free of errors, so the
//! generation stage never sees a model with a known mistake.

use std::collections::HashMap;

use syn::Ident;

use crate::ast::{Container, Field};
use crate::ctxt::Ctxt;
use crate::symbol::{RENAME, SKIP};

/// A model that passed every check, the only input generation accepts.
pub(crate) struct Checked<'a>(Container<'a>);

impl<'a> Checked<'a> {
    /// The checked model.
    pub(crate) fn container(&self) -> &Container<'a> {
        &self.0
    }
}

/// Runs every check, then consumes `cx`: the checked model, or every error
/// the parse and check stages recorded.
pub(crate) fn check(cx: Ctxt, container: Container<'_>) -> syn::Result<Checked<'_>> {
    check_lifetimes(&cx, &container);
    for field in &container.fields {
        check_skip_with_rename(&cx, field);
        check_empty_key(&cx, field);
    }
    check_unique_keys(&cx, &container);
    cx.check()?;
    Ok(Checked(container))
}

/// Session data is owned: no lifetime parameters.
fn check_lifetimes(cx: &Ctxt, container: &Container<'_>) {
    for lifetime in container.generics.lifetimes() {
        cx.error_spanned_by(
            lifetime,
            "SessionData cannot be derived for a struct with lifetime parameters: \
             session data is owned ('static)",
        );
    }
}

/// A skipped field has no key to rename.
fn check_skip_with_rename(cx: &Ctxt, field: &Field<'_>) {
    if let (Some(_), Some(rename)) = (&field.attrs.skip, &field.attrs.rename) {
        cx.error_spanned_by(
            &rename.tokens,
            format!(
                "`{SKIP}` and `{RENAME}` cannot be combined: a skipped field has no session key"
            ),
        );
    }
}

/// `rename = ""` names no key.
fn check_empty_key(cx: &Ctxt, field: &Field<'_>) {
    if let Some(rename) = &field.attrs.rename {
        if rename.value.value().is_empty() {
            cx.error_spanned_by(&rename.value, "a session key cannot be empty");
        }
    }
}

/// No two fields on one session key, nor on one key constant (`KEY_<FIELD>`).
fn check_unique_keys(cx: &Ctxt, container: &Container<'_>) {
    let mut keys: HashMap<String, &Ident> = HashMap::new();
    let mut constants: HashMap<String, &Ident> = HashMap::new();
    for field in &container.fields {
        let Some(key) = field.key() else {
            continue;
        };
        let ident = field.ident;
        if !key.is_empty() {
            if let Some(first) = keys.get(&key) {
                cx.syn_error(syn::Error::new(
                    field.key_span(),
                    format!("key {key:?} is already used by field `{first}`"),
                ));
            } else {
                keys.insert(key, ident);
            }
        }
        let name = field.constant().to_string();
        if let Some(first) = constants.get(&name) {
            cx.error_spanned_by(
                ident,
                format!("fields `{first}` and `{ident}` would both get the key constant `{name}`"),
            );
        } else {
            constants.insert(name, ident);
        }
    }
}
