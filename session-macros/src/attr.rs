//! Parsing of `#[session(...)]` attributes, on the struct and on its fields:
//! the first stage, attribute tokens to [`Container`] and [`Field`] values.
//!
//! Each attribute may appear once ([`Attr`]); every problem is recorded in
//! the [`Ctxt`], spanned at the offending tokens, and parsing goes on. Rules
//! between attributes or fields (`skip` with `rename`, an empty key, two
//! fields on one key) are the check stage's, in `check.rs`.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, Expr, ExprLit, ExprPath, Lit, LitStr, Path, Token};

use crate::ctxt::Ctxt;
use crate::symbol::{Symbol, CRATE, DEFAULT, FIELD_ATTRIBUTES, RENAME, SESSION, SKIP};

/// An attribute that may appear once (serde_derive's `Attr<T>`): a second
/// occurrence is always the error "duplicate session attribute `name`",
/// spanned at it, and its value is dropped.
struct Attr<'c, T> {
    cx: &'c Ctxt,
    name: Symbol,
    /// Where the first occurrence was written, once there is one.
    tokens: Option<TokenStream>,
    /// The first occurrence's value; `None` while unset, and when that value
    /// was malformed (already reported).
    value: Option<T>,
}

impl<'c, T> Attr<'c, T> {
    /// An attribute not seen yet.
    fn none(cx: &'c Ctxt, name: Symbol) -> Self {
        Self {
            cx,
            name,
            tokens: None,
            value: None,
        }
    }

    /// Records an occurrence written at `tokens`, with its value (`None` when
    /// the value was malformed and already reported).
    fn set(&mut self, tokens: impl ToTokens, value: Option<T>) {
        let tokens = tokens.into_token_stream();
        if self.tokens.is_some() {
            self.cx.error_spanned_by(
                tokens,
                format!("duplicate session attribute `{}`", self.name),
            );
        } else {
            self.tokens = Some(tokens);
            self.value = value;
        }
    }

    /// The value, if the attribute was given with a well-formed one.
    fn get(self) -> Option<T> {
        self.value
    }

    /// The value with the tokens of the attribute's name, for later messages.
    fn get_with_tokens(self) -> Option<Spanned<T>> {
        match (self.tokens, self.value) {
            (Some(tokens), Some(value)) => Some(Spanned { tokens, value }),
            _ => None,
        }
    }
}

/// An attribute's value with the tokens of its name, where later stages
/// report problems about it.
pub(crate) struct Spanned<T> {
    /// The attribute's name as written (`rename` in `rename = "x"`).
    pub(crate) tokens: TokenStream,
    /// Its value.
    pub(crate) value: T,
}

/// `#[session(...)]` on the struct.
pub(crate) struct Container {
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
pub(crate) struct Field {
    /// `rename = "key"`, as written (the check stage rejects an empty one).
    pub(crate) rename: Option<Spanned<LitStr>>,
    /// The default; [`FieldDefault::Trait`] when no attribute says otherwise.
    pub(crate) default: FieldDefault,
    /// `skip`: the field is not a session key.
    pub(crate) skip: Option<Spanned<()>>,
}

impl Container {
    /// Parses the struct's `#[session(...)]` attributes.
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut krate = Attr::none(cx, CRATE);
        for_each_meta(cx, attrs, |meta| {
            if meta.path == CRATE {
                let value = string_value(cx, meta, CRATE, "crate = \"my_reexport::session\"")?
                    .and_then(|lit| match lit.parse::<Path>() {
                        Ok(path) => Some(path),
                        Err(_) => {
                            cx.error_spanned_by(
                                &lit,
                                "`crate` must be a string holding a path to the `session` \
                                 crate, such as `crate = \"my_reexport::session\"`",
                            );
                            None
                        }
                    });
                krate.set(&meta.path, value);
            } else {
                cx.error_spanned_by(
                    &meta.path,
                    format!(
                        "unknown session attribute `{}` on a struct; expected `{CRATE}` \
                         ({RENAME}, {DEFAULT} and {SKIP} go on fields)",
                        path_name(&meta.path)
                    ),
                );
                skip_rest(meta)?;
            }
            Ok(())
        });
        Self { krate: krate.get() }
    }
}

impl Field {
    /// Parses one field's `#[session(...)]` attributes.
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut rename = Attr::none(cx, RENAME);
        let mut default = Attr::none(cx, DEFAULT);
        let mut skip = Attr::none(cx, SKIP);
        for_each_meta(cx, attrs, |meta| {
            if meta.path == RENAME {
                let value = string_value(cx, meta, RENAME, "rename = \"_user_id\"")?;
                rename.set(&meta.path, value);
            } else if meta.path == DEFAULT {
                let value = if meta.input.peek(Token![=]) {
                    default_path(cx, meta)?
                } else if has_value(meta) {
                    cx.error_spanned_by(
                        &meta.path,
                        "expected `default` or `default = \"path::to::function\"`",
                    );
                    skip_rest(meta)?;
                    None
                } else {
                    Some(FieldDefault::Trait)
                };
                default.set(&meta.path, value);
            } else if meta.path == SKIP {
                if has_value(meta) {
                    cx.error_spanned_by(&meta.path, "`skip` takes no value");
                    skip_rest(meta)?;
                }
                skip.set(&meta.path, Some(()));
            } else {
                let expected = FIELD_ATTRIBUTES.map(Symbol::as_str).join(", ");
                cx.error_spanned_by(
                    &meta.path,
                    format!(
                        "unknown session attribute `{}`; expected one of {expected}",
                        path_name(&meta.path)
                    ),
                );
                skip_rest(meta)?;
            }
            Ok(())
        });
        Self {
            rename: rename.get_with_tokens(),
            default: default.get().unwrap_or(FieldDefault::Trait),
            skip: skip.get_with_tokens(),
        }
    }
}

/// Runs `parse` on each item of each `#[session(...)]` attribute; an error it
/// returns (tokens `syn` cannot parse at all) is recorded, and parsing goes on
/// with the next attribute.
fn for_each_meta(
    cx: &Ctxt, attrs: &[Attribute], mut parse: impl FnMut(&ParseNestedMeta<'_>) -> syn::Result<()>,
) {
    for attr in attrs.iter().filter(|a| a.path() == SESSION) {
        if let Err(error) = attr.parse_nested_meta(|meta| parse(&meta)) {
            cx.syn_error(error);
        }
    }
}

/// Reads `default = "path"`: the path of the function giving the default.
fn default_path(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<FieldDefault>> {
    let Some(lit) = string_value(cx, meta, DEFAULT, "default = \"my_default\"")? else {
        return Ok(None);
    };
    match lit.parse::<ExprPath>() {
        Ok(path) => Ok(Some(FieldDefault::Path(path))),
        Err(_) => {
            cx.error_spanned_by(
                &lit,
                "`default` must be a string holding the path of a function \
                 returning the field's type, such as `default = \"my_default\"`",
            );
            Ok(None)
        }
    }
}

/// Reads `name = "string"`. A missing or non-string value is recorded as an
/// error and gives `Ok(None)`; `Err` only when the tokens cannot be parsed
/// at all.
fn string_value(
    cx: &Ctxt, meta: &ParseNestedMeta<'_>, name: Symbol, example: &str,
) -> syn::Result<Option<LitStr>> {
    if !meta.input.peek(Token![=]) {
        cx.error_spanned_by(
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
            cx.error_spanned_by(
                other,
                format!("`{name}` takes a string literal, such as `{example}`"),
            );
            Ok(None)
        }
    }
}

/// Whether something other than `,` or the end follows an attribute's name.
fn has_value(meta: &ParseNestedMeta<'_>) -> bool {
    !meta.input.is_empty() && !meta.input.peek(Token![,])
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

#[cfg(test)]
/// Attributes given twice.
mod tests {
    use syn::{parse_quote, Attribute};

    use super::{Container, Field, FieldDefault};
    use crate::ctxt::Ctxt;

    /// The messages of every error `cx` collected.
    fn messages(cx: Ctxt) -> Vec<String> {
        match cx.check() {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    /// Any attribute given twice is the same error, and the first value stays.
    #[test]
    fn every_duplicate_is_the_same_error() {
        let cx = Ctxt::new();
        let field: Vec<Attribute> = parse_quote! {
            #[session(rename = "a", default, skip)]
            #[session(rename = "b", default = "f", skip)]
        };
        let parsed = Field::from_ast(&cx, &field);
        assert_eq!(parsed.rename.map(|r| r.value.value()).as_deref(), Some("a"));
        assert!(matches!(parsed.default, FieldDefault::Trait));
        let container: Vec<Attribute> = parse_quote! {
            #[session(crate = "first")]
            #[session(crate = "second")]
        };
        let krate = Container::from_ast(&cx, &container).krate;
        assert!(krate.is_some_and(|path| path.is_ident("first")));
        assert_eq!(
            messages(cx),
            [
                "duplicate session attribute `rename`",
                "duplicate session attribute `default`",
                "duplicate session attribute `skip`",
                "duplicate session attribute `crate`",
            ]
        );
    }
}
