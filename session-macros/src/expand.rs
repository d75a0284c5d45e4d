//! The expansion of `#[derive(SessionData)]`.

use std::collections::HashMap;

use proc_macro2::{Ident, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Path, Type, WherePredicate};

use crate::attr::{self, Errors, FieldDefault};

/// What the derive said about a struct with named fields it cannot handle.
const NAMED_FIELDS_ONLY: &str = "SessionData can only be derived for structs with named fields";

/// One field of the struct, as the generated code uses it.
struct FieldPlan<'a> {
    ident: &'a Ident,
    ty: &'a Type,
    /// The session key; `None` for a skipped field.
    key: Option<String>,
    /// The name of the associated key constant (`KEY_<FIELD>`).
    constant: Ident,
    /// The default, as a function value (`FnOnce() -> T`).
    default_fn: TokenStream,
    /// The default, as an expression.
    default_call: TokenStream,
    /// Whether the default is `Default::default()`.
    uses_default_trait: bool,
}

/// Expands the derive, or returns every error found in the input.
pub(crate) fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let container = attr::container(&input.attrs, &mut errors);

    let named = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => Some(named),
            Fields::Unnamed(unnamed) => {
                errors.spanned(unnamed, NAMED_FIELDS_ONLY);
                None
            }
            Fields::Unit => {
                let (token, ident) = (&data.struct_token, &input.ident);
                errors.spanned(quote!(#token #ident), NAMED_FIELDS_ONLY);
                None
            }
        },
        Data::Enum(data) => {
            let (token, ident) = (&data.enum_token, &input.ident);
            errors.spanned(quote!(#token #ident), NAMED_FIELDS_ONLY);
            None
        }
        Data::Union(data) => {
            let (token, ident) = (&data.union_token, &input.ident);
            errors.spanned(quote!(#token #ident), NAMED_FIELDS_ONLY);
            None
        }
    };

    for lifetime in input.generics.lifetimes() {
        errors.spanned(
            lifetime,
            "SessionData cannot be derived for a struct with lifetime parameters: \
             session data is owned ('static)",
        );
    }

    let mut plans = Vec::new();
    let mut keys: HashMap<String, &Ident> = HashMap::new();
    let mut constants: HashMap<String, &Ident> = HashMap::new();
    for field in named.into_iter().flat_map(|n| &n.named) {
        let Some(ident) = field.ident.as_ref() else {
            continue;
        };
        let attrs = attr::field(&field.attrs, &mut errors);
        let ty = &field.ty;

        let key = match (&attrs.skip, &attrs.rename) {
            (Some(_), _) => None,
            (None, Some((_, lit))) => Some(lit.value()),
            (None, None) => Some(ident.unraw().to_string()),
        };
        let constant = format_ident!(
            "KEY_{}",
            ident.unraw().to_string().to_uppercase(),
            span = ident.span()
        );
        if let Some(key) = &key {
            if let Some(first) = keys.get(key.as_str()) {
                errors.push(syn::Error::new(
                    attr::key_span(&attrs, ident),
                    format!("key {key:?} is already used by field `{first}`"),
                ));
            } else {
                keys.insert(key.clone(), ident);
            }
            let name = constant.to_string();
            if let Some(first) = constants.get(&name) {
                errors.spanned(
                    ident,
                    format!(
                        "fields `{first}` and `{ident}` would both get the key constant `{name}`"
                    ),
                );
            } else {
                constants.insert(name, ident);
            }
        }

        // Spanned at the field type (or the `default` string), so a missing
        // `Default` or a wrong return type is reported there.
        let (default_fn, default_call, uses_default_trait) = match attrs.default {
            FieldDefault::Trait => {
                let call = quote_spanned!(ty.span()=> <#ty as ::core::default::Default>::default());
                (quote_spanned!(ty.span()=> || #call), call, true)
            }
            FieldDefault::Path(path) => (path.to_token_stream(), quote!(#path()), false),
        };
        plans.push(FieldPlan {
            ident,
            ty,
            key,
            constant,
            default_fn,
            default_call,
            uses_default_trait,
        });
    }
    errors.finish()?;

    let krate: Path = container
        .krate
        .unwrap_or_else(|| syn::parse_quote!(::session));
    Ok(generate(input, &krate, &plans))
}

/// The trait impl and the inherent impl holding the key constants.
fn generate(input: &DeriveInput, krate: &Path, plans: &[FieldPlan<'_>]) -> TokenStream {
    let name = &input.ident;
    let serde = quote!(#krate::__private::serde);

    // Bounds: every type parameter is owned and sendable (the trait's
    // supertraits); each field type that mentions a type or const parameter
    // must be serde-able, and Default where the default comes from that trait.
    let type_params: Vec<&Ident> = input.generics.type_params().map(|p| &p.ident).collect();
    let params: Vec<&Ident> = type_params
        .iter()
        .copied()
        .chain(input.generics.const_params().map(|p| &p.ident))
        .collect();
    let mut generics = input.generics.clone();
    if !params.is_empty() {
        let clause = generics.make_where_clause();
        for param in &type_params {
            clause
                .predicates
                .push(syn::parse_quote!(#param: ::core::marker::Send + 'static));
        }
        for plan in plans
            .iter()
            .filter(|p| mentions(p.ty.to_token_stream(), &params))
        {
            let ty = plan.ty;
            if plan.key.is_some() {
                let bound: WherePredicate = syn::parse_quote!(
                    #ty: #serde::Serialize + #serde::de::DeserializeOwned
                );
                clause.predicates.push(bound);
            }
            if plan.uses_default_trait {
                clause
                    .predicates
                    .push(syn::parse_quote!(#ty: ::core::default::Default));
            }
        }
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();

    let keyed: Vec<&FieldPlan<'_>> = plans.iter().filter(|p| p.key.is_some()).collect();
    let keys: Vec<&str> = keyed.iter().filter_map(|p| p.key.as_deref()).collect();

    let inits = plans.iter().map(|plan| {
        let FieldPlan {
            ident,
            ty,
            default_fn,
            default_call,
            ..
        } = plan;
        match &plan.key {
            Some(key) => quote! {
                #ident: #krate::__private::read_field::<#ty>(__session_map, #key, #default_fn)
            },
            None => quote!(#ident: #default_call),
        }
    });
    let encodes = keyed.iter().map(|plan| {
        let (ident, ty) = (plan.ident, plan.ty);
        let key = plan.key.as_deref().unwrap_or_default();
        quote!(__fields.push::<#ty>(#key, &self.#ident)?;)
    });

    let constants = keyed.iter().map(|plan| {
        let key = plan.key.as_deref().unwrap_or_default();
        let doc = format!(
            "The session key of field `{}`: `{key:?}`.",
            plan.ident.unraw()
        );
        let constant = &plan.constant;
        quote! {
            #[doc = #doc]
            pub const #constant: &'static str = #key;
        }
    });
    let (plain_impl, plain_ty, plain_where) = input.generics.split_for_impl();

    quote! {
        #[automatically_derived]
        #[allow(clippy::redundant_closure, clippy::redundant_static_lifetimes)]
        impl #impl_generics #krate::SessionData for #name #ty_generics #where_clause {
            const KEYS: &'static [&'static str] = &[#(#keys),*];

            fn from_map(__session_map: &#krate::SessionMap) -> Self {
                Self { #(#inits,)* }
            }

            #[allow(unused_variables)]
            fn encode_fields(
                &self,
                __fields: &mut #krate::__private::EncodedFields,
            ) -> ::core::result::Result<(), #krate::ValueError> {
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

/// Whether `tokens` name one of the generic parameters anywhere.
fn mentions(tokens: TokenStream, params: &[&Ident]) -> bool {
    tokens.into_iter().any(|tree| match tree {
        TokenTree::Ident(ident) => params.iter().any(|p| **p == ident),
        TokenTree::Group(group) => mentions(group.stream(), params),
        TokenTree::Punct(_) | TokenTree::Literal(_) => false,
    })
}
