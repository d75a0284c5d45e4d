//! The model of the input, built by the parse stage: the struct, its
//! attributes, and each named field with its attributes (serde_derive's
//! `ast.rs`). Errors go to the [`Ctxt`]; the model is built as far as the
//! input allows, so the check stage can report more of them at once.

use proc_macro2::Span;
use quote::{format_ident, quote};
use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Fields, Generics, Ident, Type};

use crate::attr;
use crate::ctxt::Ctxt;

/// What the derive says about an input it cannot handle.
const NAMED_FIELDS_ONLY: &str = "SessionData can only be derived for structs with named fields";

/// The struct the derive is on.
pub(crate) struct Container<'a> {
    /// The struct's name.
    pub(crate) ident: &'a Ident,
    /// Its generics, as written.
    pub(crate) generics: &'a Generics,
    /// Its `#[session(...)]` attributes.
    pub(crate) attrs: attr::Container,
    /// Its named fields, in order; empty for an input that is not a struct
    /// with named fields (an error already recorded).
    pub(crate) fields: Vec<Field<'a>>,
}

/// One named field.
pub(crate) struct Field<'a> {
    /// The field's name.
    pub(crate) ident: &'a Ident,
    /// Its type.
    pub(crate) ty: &'a Type,
    /// Its `#[session(...)]` attributes.
    pub(crate) attrs: attr::Field,
}

impl<'a> Container<'a> {
    /// Parses the input: the struct's attributes, then each field's.
    pub(crate) fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Self {
        let attrs = attr::Container::from_ast(cx, &input.attrs);
        let fields = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => named
                    .named
                    .iter()
                    .filter_map(|field| {
                        Some(Field {
                            ident: field.ident.as_ref()?,
                            ty: &field.ty,
                            attrs: attr::Field::from_ast(cx, &field.attrs),
                        })
                    })
                    .collect(),
                Fields::Unnamed(unnamed) => {
                    cx.error_spanned_by(unnamed, NAMED_FIELDS_ONLY);
                    Vec::new()
                }
                Fields::Unit => {
                    let (token, ident) = (&data.struct_token, &input.ident);
                    cx.error_spanned_by(quote!(#token #ident), NAMED_FIELDS_ONLY);
                    Vec::new()
                }
            },
            Data::Enum(data) => {
                let (token, ident) = (&data.enum_token, &input.ident);
                cx.error_spanned_by(quote!(#token #ident), NAMED_FIELDS_ONLY);
                Vec::new()
            }
            Data::Union(data) => {
                let (token, ident) = (&data.union_token, &input.ident);
                cx.error_spanned_by(quote!(#token #ident), NAMED_FIELDS_ONLY);
                Vec::new()
            }
        };
        Self {
            ident: &input.ident,
            generics: &input.generics,
            attrs,
            fields,
        }
    }
}

impl Field<'_> {
    /// The session key: the `rename` string, else the field's name; `None`
    /// for a skipped field.
    pub(crate) fn key(&self) -> Option<String> {
        if self.attrs.skip.is_some() {
            return None;
        }
        Some(match &self.attrs.rename {
            Some(rename) => rename.value.value(),
            None => self.ident.unraw().to_string(),
        })
    }

    /// Where to report a problem with the key: the `rename` string, else the
    /// field's name.
    pub(crate) fn key_span(&self) -> Span {
        self.attrs
            .rename
            .as_ref()
            .map_or_else(|| self.ident.span(), |rename| rename.value.span())
    }

    /// The name of the key's associated constant: `KEY_<FIELD>`.
    pub(crate) fn constant(&self) -> Ident {
        format_ident!(
            "KEY_{}",
            self.ident.unraw().to_string().to_uppercase(),
            span = self.ident.span()
        )
    }
}
