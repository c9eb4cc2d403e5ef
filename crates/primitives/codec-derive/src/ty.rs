//! Code for one field, chosen by the shape of its type: strings and lists take their limits
//! from the field's attributes, options and boxes wrap their inner type, tuples go element by
//! element, and everything else uses its own `Encode`/`Decode`.

use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::{Expr, GenericArgument, PathArguments, Type};

/// The shapes the derive treats structurally.
enum Shape<'a> {
    Str,
    Vec(&'a Type),
    Option(&'a Type),
    Box(&'a Type),
    Tuple(Vec<&'a Type>),
    Other,
}

fn shape(ty: &Type) -> Shape<'_> {
    match ty {
        Type::Tuple(t) => Shape::Tuple(t.elems.iter().collect()),
        Type::Path(p) if p.qself.is_none() => {
            let Some(last) = p.path.segments.last() else {
                return Shape::Other;
            };
            let inner = match &last.arguments {
                PathArguments::AngleBracketed(a) => a.args.iter().find_map(|g| match g {
                    GenericArgument::Type(t) => Some(t),
                    _ => None,
                }),
                _ => None,
            };
            match (last.ident.to_string().as_str(), inner) {
                ("String", None) => Shape::Str,
                ("Vec", Some(t)) => Shape::Vec(t),
                ("Option", Some(t)) => Shape::Option(t),
                ("Box", Some(t)) => Shape::Box(t),
                _ => Shape::Other,
            }
        }
        _ => Shape::Other,
    }
}

/// Whether decoding the type needs a limit from the attributes.
fn needs_limit(ty: &Type) -> bool {
    match shape(ty) {
        Shape::Str | Shape::Vec(_) => true,
        Shape::Option(t) | Shape::Box(t) => needs_limit(t),
        Shape::Tuple(ts) => ts.into_iter().any(needs_limit),
        Shape::Other => false,
    }
}

/// Appends the encoding of `value` (an expression of type `&ty`) to `out`.
pub(crate) fn encode(ty: &Type, value: &impl quote::ToTokens) -> syn::Result<Tokens> {
    let codec = quote!(::machina_primitives::codec);
    Ok(match shape(ty) {
        Shape::Str => quote!(#codec::put_str(out, #value);),
        Shape::Vec(t) => {
            let item = encode(t, &quote!(item))?;
            quote! {
                #codec::put_len(out, #value.len());
                for item in #value.iter() { #item }
            }
        }
        Shape::Option(t) if needs_limit(t) => {
            let inner = encode(t, &quote!(v))?;
            quote! {
                match #value {
                    ::std::option::Option::None => out.push(0),
                    ::std::option::Option::Some(v) => { out.push(1); #inner }
                }
            }
        }
        Shape::Box(t) => encode(t, &quote!((&**#value)))?,
        Shape::Tuple(ts) => {
            let parts = ts
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let idx = syn::Index::from(i);
                    encode(t, &quote!((&#value.#idx)))
                })
                .collect::<syn::Result<Vec<_>>>()?;
            quote!(#(#parts)*)
        }
        Shape::Option(_) | Shape::Other => quote!(#codec::Encode::encode_to(#value, out);),
    })
}

/// An expression that reads one value of type `ty` from `r`, with `limits` for its strings
/// and lists, outermost first.
pub(crate) fn decode(ty: &Type, limits: &[&Expr], what: &str) -> syn::Result<Tokens> {
    let codec = quote!(::machina_primitives::codec);
    let missing = || {
        syn::Error::new_spanned(
            ty,
            "a string or list needs a bound: #[codec(max = LIMIT)] (and each = LIMIT for a list of strings)",
        )
    };
    Ok(match shape(ty) {
        Shape::Str => {
            let max = limits.first().ok_or_else(missing)?;
            quote!(r.string(#what, (#max) as usize)?)
        }
        Shape::Vec(t) => {
            let max = limits.first().ok_or_else(missing)?;
            let item = decode(t, &limits[1..], what)?;
            quote! {{
                let n = r.len(#what, (#max) as usize)?;
                let mut v = ::std::vec::Vec::with_capacity(n.min(r.remaining()));
                for _ in 0..n { v.push(#item); }
                v
            }}
        }
        Shape::Option(t) if needs_limit(t) => {
            let inner = decode(t, limits, what)?;
            quote! {
                match r.u8()? {
                    0 => ::std::option::Option::None,
                    1 => ::std::option::Option::Some(#inner),
                    tag => return Err(#codec::CodecError::BadTag { what: #what, tag }),
                }
            }
        }
        Shape::Box(t) => {
            let inner = decode(t, limits, what)?;
            quote!(::std::boxed::Box::new(#inner))
        }
        Shape::Tuple(ts) => {
            let parts = ts
                .iter()
                .map(|t| decode(t, limits, what))
                .collect::<syn::Result<Vec<_>>>()?;
            quote!((#(#parts),*))
        }
        Shape::Option(_) | Shape::Other => {
            quote!(<#ty as #codec::Decode>::decode_from(r)?)
        }
    })
}
