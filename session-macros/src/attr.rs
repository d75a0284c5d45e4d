//! Parsing of `#[session(...)]` attributes, on the struct and on its fields.
//!
//! Every problem is recorded in an [`Errors`] list, spanned at the offending
//! tokens, and parsing goes on: one compile lists all the mistakes at once.

use proc_macro2::Span;
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, Expr, ExprLit, ExprPath, Lit, LitStr, Path, Token};

/// The attribute's name: `#[session(...)]`.
const ATTR: &str = "session";

/// Compile errors collected while expanding one derive.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    /// Records one more error.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(first) => first.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// Records an error spanned at `tokens`.
    pub(crate) fn spanned(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// `Err` with every recorded error, or `Ok` when there is none.
    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// `#[session(...)]` on the struct.
#[derive(Default)]
pub(crate) struct ContainerAttrs {
    /// `crate = "path"`: where generated code finds the `session` crate.
    pub(crate) krate: Option<Path>,
}

/// Where a field's value comes from when its key is missing or unreadable.
pub(crate) enum FieldDefault {
    /// `Default::default()`: no attribute, or a bare `default`.
    Trait,
    /// `default = "path"`: calls `path()`.
    Path(ExprPath),
}

/// `#[session(...)]` on a field.
pub(crate) struct FieldAttrs {
    /// `rename = "key"`, with the `rename` path for error spans.
    pub(crate) rename: Option<(Path, LitStr)>,
    /// The default; [`FieldDefault::Trait`] when no attribute says otherwise.
    pub(crate) default: FieldDefault,
    /// `skip`: the field is not a session key.
    pub(crate) skip: Option<Path>,
}

/// Parses the struct's `#[session(...)]` attributes.
pub(crate) fn container(attrs: &[Attribute], errors: &mut Errors) -> ContainerAttrs {
    let mut out = ContainerAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident(ATTR)) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                let Some(lit) =
                    string_value(&meta, "crate", "crate = \"my_reexport::session\"", errors)?
                else {
                    return Ok(());
                };
                if out.krate.is_some() {
                    errors.spanned(&meta.path, "duplicate session attribute `crate`");
                }
                match lit.parse::<Path>() {
                    Ok(path) => out.krate = Some(path),
                    Err(_) => errors.spanned(
                        &lit,
                        "`crate` must be a string holding a path to the `session` crate, \
                         such as `crate = \"my_reexport::session\"`",
                    ),
                }
            } else {
                errors.spanned(
                    &meta.path,
                    format!(
                        "unknown session attribute `{}` on a struct; expected `crate` \
                         (rename, default and skip go on fields)",
                        path_name(&meta.path)
                    ),
                );
                skip_rest(&meta)?;
            }
            Ok(())
        });
        if let Err(error) = parsed {
            errors.push(error);
        }
    }
    out
}

/// Parses one field's `#[session(...)]` attributes.
pub(crate) fn field(attrs: &[Attribute], errors: &mut Errors) -> FieldAttrs {
    let mut out = FieldAttrs {
        rename: None,
        default: FieldDefault::Trait,
        skip: None,
    };
    let mut default_seen = false;
    for attr in attrs.iter().filter(|a| a.path().is_ident(ATTR)) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                let Some(lit) = string_value(&meta, "rename", "rename = \"_user_id\"", errors)?
                else {
                    return Ok(());
                };
                if out.rename.is_some() {
                    errors.spanned(&meta.path, "duplicate session attribute `rename`");
                } else if lit.value().is_empty() {
                    errors.spanned(&lit, "a session key cannot be empty");
                } else {
                    out.rename = Some((meta.path.clone(), lit));
                }
            } else if meta.path.is_ident("default") {
                if default_seen {
                    errors.spanned(&meta.path, "duplicate session attribute `default`");
                }
                default_seen = true;
                if meta.input.peek(Token![=]) {
                    let Some(lit) =
                        string_value(&meta, "default", "default = \"my_default\"", errors)?
                    else {
                        return Ok(());
                    };
                    match lit.parse::<ExprPath>() {
                        Ok(path) => out.default = FieldDefault::Path(path),
                        Err(_) => errors.spanned(
                            &lit,
                            "`default` must be a string holding the path of a function \
                             returning the field's type, such as `default = \"my_default\"`",
                        ),
                    }
                } else if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
                    errors.spanned(
                        &meta.path,
                        "expected `default` or `default = \"path::to::function\"`",
                    );
                    skip_rest(&meta)?;
                }
            } else if meta.path.is_ident("skip") {
                if out.skip.is_some() {
                    errors.spanned(&meta.path, "duplicate session attribute `skip`");
                }
                if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
                    errors.spanned(&meta.path, "`skip` takes no value");
                    skip_rest(&meta)?;
                }
                out.skip = Some(meta.path.clone());
            } else {
                errors.spanned(
                    &meta.path,
                    format!(
                        "unknown session attribute `{}`; expected one of rename, default, skip",
                        path_name(&meta.path)
                    ),
                );
                skip_rest(&meta)?;
            }
            Ok(())
        });
        if let Err(error) = parsed {
            errors.push(error);
        }
    }
    if let (Some(_), Some((rename, _))) = (&out.skip, &out.rename) {
        errors.spanned(
            rename,
            "`skip` and `rename` cannot be combined: a skipped field has no session key",
        );
    }
    out
}

/// Reads `name = "string"`. A missing or non-string value is recorded as an
/// error and gives `Ok(None)`; `Err` only when the tokens cannot be parsed
/// at all.
fn string_value(
    meta: &ParseNestedMeta<'_>,
    name: &str,
    example: &str,
    errors: &mut Errors,
) -> syn::Result<Option<LitStr>> {
    if !meta.input.peek(Token![=]) {
        errors.spanned(
            &meta.path,
            format!("`{name}` needs a string value, such as `{example}`"),
        );
        skip_rest(meta)?;
        return Ok(None);
    }
    let value: Expr = meta.value()?.parse()?;
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(Some(lit)),
        other => {
            errors.spanned(
                other,
                format!("`{name}` takes a string literal, such as `{example}`"),
            );
            Ok(None)
        }
    }
}

/// Consumes whatever follows an attribute name we reject (`= value` or a
/// parenthesised list), so parsing can go on with the next one.
fn skip_rest(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.input.parse::<proc_macro2::TokenTree>()?;
    }
    Ok(())
}

/// An attribute's name as written, for messages.
fn path_name(path: &Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}

/// The span to report a field's key at: its `rename` string, else its name.
pub(crate) fn key_span(attrs: &FieldAttrs, ident: &syn::Ident) -> Span {
    attrs
        .rename
        .as_ref()
        .map_or_else(|| ident.span(), |(_, lit)| lit.span())
}
