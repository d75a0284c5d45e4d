//! The generation stage: the `SessionData` impl and the key constants, from a
//! [`Checked`] model only.
//!
//! Generated code names the `session` crate's helpers through its hidden
//! `__private` module (`#krate::__private::…`), so they need not be part of
//! its documented API.

use proc_macro2::{Ident, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Path, WherePredicate};

use crate::ast::Field;
use crate::attr::FieldDefault;
use crate::check::Checked;

/// The trait impl and the inherent impl holding the key constants.
/// `default_krate` is where the generated code finds the crate when the
/// struct has no `crate = "…"` attribute.
pub(crate) fn derive(checked: &Checked<'_>, default_krate: &Path) -> TokenStream {
    let container = checked.container();
    let krate: Path = container
        .attrs
        .krate
        .clone()
        .unwrap_or_else(|| default_krate.clone());
    let private = quote!(#krate::__private);
    let name = container.ident;
    let fields = &container.fields;

    // Bounds: every type parameter is owned and sendable (the trait's
    // supertraits); each field type that mentions a type or const parameter
    // must be serde-able, and Default where the default comes from that trait.
    let type_params: Vec<&Ident> = container.generics.type_params().map(|p| &p.ident).collect();
    let params: Vec<&Ident> = type_params
        .iter()
        .copied()
        .chain(container.generics.const_params().map(|p| &p.ident))
        .collect();
    let mut generics = container.generics.clone();
    if !params.is_empty() {
        let clause = generics.make_where_clause();
        for param in &type_params {
            clause
                .predicates
                .push(syn::parse_quote!(#param: ::core::marker::Send + 'static));
        }
        for field in fields
            .iter()
            .filter(|f| mentions(f.ty.to_token_stream(), &params))
        {
            let ty = field.ty;
            if field.key().is_some() {
                let bound: WherePredicate = syn::parse_quote!(
                    #ty: #private::serde::Serialize + #private::serde::de::DeserializeOwned
                );
                clause.predicates.push(bound);
            }
            if matches!(field.attrs.default, FieldDefault::Trait) {
                clause
                    .predicates
                    .push(syn::parse_quote!(#ty: ::core::default::Default));
            }
        }
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();

    let keyed: Vec<(&Field<'_>, String)> = fields
        .iter()
        .filter_map(|field| Some((field, field.key()?)))
        .collect();
    let keys = keyed.iter().map(|(_, key)| key);

    let inits = fields.iter().map(|field| {
        let (ident, ty) = (field.ident, field.ty);
        match field.key() {
            Some(key) => {
                let default = default_fn(field);
                quote! {
                    #ident: #private::read_field::<#ty>(__session_map, #key, #default)
                }
            }
            None => {
                let default = default_call(field);
                quote!(#ident: #default)
            }
        }
    });
    let encodes = keyed.iter().map(|(field, key)| {
        let (ident, ty) = (field.ident, field.ty);
        quote!(__fields.push::<#ty>(#key, &self.#ident)?;)
    });

    let constants = keyed.iter().map(|(field, key)| {
        let doc = format!(
            "The session key of field `{}`: `{key:?}`.",
            field.ident.unraw()
        );
        let constant = field.constant();
        quote! {
            #[doc = #doc]
            pub const #constant: &'static str = #key;
        }
    });
    let (plain_impl, plain_ty, plain_where) = container.generics.split_for_impl();

    quote! {
        #[automatically_derived]
        #[allow(clippy::redundant_closure, clippy::redundant_static_lifetimes)]
        impl #impl_generics #private::SessionData for #name #ty_generics #where_clause {
            const KEYS: &'static [&'static str] = &[#(#keys),*];

            fn from_map(__session_map: &#private::SessionMap) -> Self {
                Self { #(#inits,)* }
            }

            #[allow(unused_variables)]
            fn encode_fields(
                &self,
                __fields: &mut #private::EncodedFields,
            ) -> ::core::result::Result<(), #private::ValueError> {
                #(#encodes)*
                ::core::result::Result::Ok(())
            }
        }

        #[allow(dead_code, clippy::redundant_static_lifetimes)]
        impl #plain_impl #name #plain_ty #plain_where {
            #(#constants)*
        }
    }
}

/// The field's default as a function value (`FnOnce() -> T`). Spanned at the
/// field type (or the `default` string), so a missing `Default` or a wrong
/// return type is reported there.
fn default_fn(field: &Field<'_>) -> TokenStream {
    match &field.attrs.default {
        FieldDefault::Trait => {
            let call = default_call(field);
            quote_spanned!(field.ty.span()=> || #call)
        }
        FieldDefault::Path(path) => path.to_token_stream(),
    }
}

/// The field's default as an expression, spanned as in [`default_fn`].
fn default_call(field: &Field<'_>) -> TokenStream {
    let ty = field.ty;
    match &field.attrs.default {
        FieldDefault::Trait => {
            quote_spanned!(ty.span()=> <#ty as ::core::default::Default>::default())
        }
        FieldDefault::Path(path) => quote!(#path()),
    }
}

/// Whether `tokens` name one of the generic parameters anywhere.
fn mentions(tokens: TokenStream, params: &[&Ident]) -> bool {
    tokens.into_iter().any(|tree| match tree {
        TokenTree::Ident(ident) => params.iter().any(|p| **p == ident),
        TokenTree::Group(group) => mentions(group.stream(), params),
        TokenTree::Punct(_) | TokenTree::Literal(_) => false,
    })
}
