//! Derives Machina's canonical `Encode` and `Decode`, with explicit limits on every
//! variable-length field.
//!
//! The encoding is the one `machina_primitives::codec` defines by hand: fields in declaration
//! order, integers big-endian, lengths as `u32`, options as a 0/1 byte, enum variants as one
//! tag byte chosen explicitly with `#[codec(tag = N)]` (a tag is protocol: it never changes
//! when variants are reordered). Decoding untrusted bytes needs a bound on everything that
//! has a length, so a `String` or `Vec` field must say `#[codec(max = LIMIT)]` (and a list of
//! strings also `each = LIMIT`), or the derive refuses to compile.
//!
//! Attributes:
//! - on an enum: `#[codec(what = "action")]` names it in decoding errors;
//! - on a variant: `#[codec(tag = 1)]`, required;
//! - on a field: `max = EXPR`, `each = EXPR`, `what = "zone name"`.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::{format_ident, quote};
use syn::{parse_macro_input, Data, DeriveInput, Expr, Fields, Type};

mod attrs;
mod ty;

use attrs::{FieldAttrs, TypeAttrs};

/// Derives `machina_primitives::codec::Encode` (and, for enums, `Tagged`).
#[proc_macro_derive(Encode, attributes(codec))]
pub fn derive_encode(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand_encode(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives `machina_primitives::codec::Decode`.
#[proc_macro_derive(Decode, attributes(codec))]
pub fn derive_decode(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand_decode(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// One field to encode or decode: how to name it, its type and its limits.
struct FieldInfo {
    binding: syn::Ident,
    member: Option<syn::Ident>,
    ty: Type,
    attrs: FieldAttrs,
}

fn field_infos(fields: &Fields) -> syn::Result<Vec<FieldInfo>> {
    fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let attrs = FieldAttrs::parse(&f.attrs)?;
            Ok(FieldInfo {
                binding: f.ident.clone().unwrap_or_else(|| format_ident!("f{i}")),
                member: f.ident.clone(),
                ty: f.ty.clone(),
                attrs,
            })
        })
        .collect()
}

/// `Name { a, b }`, `Name(f0, f1)` or `Name`, as a pattern or a constructor.
fn shape(path: Tokens, fields: &Fields, infos: &[FieldInfo]) -> Tokens {
    let names = infos.iter().map(|f| &f.binding);
    match fields {
        Fields::Named(_) => quote!(#path { #(#names),* }),
        Fields::Unnamed(_) => quote!(#path ( #(#names),* )),
        Fields::Unit => path,
    }
}

fn encode_fields(infos: &[FieldInfo]) -> syn::Result<Tokens> {
    let parts = infos
        .iter()
        .map(|f| ty::encode(&f.ty, &f.binding))
        .collect::<syn::Result<Vec<_>>>()?;
    Ok(quote!(#(#parts)*))
}

fn decode_fields(infos: &[FieldInfo], container: &str) -> syn::Result<Tokens> {
    let parts = infos
        .iter()
        .map(|f| {
            let what = f.attrs.what.clone().unwrap_or_else(|| {
                f.member
                    .as_ref()
                    .map(|m| m.to_string().replace('_', " "))
                    .unwrap_or_else(|| container.to_owned())
            });
            let limits: Vec<&Expr> = f.attrs.max.iter().chain(f.attrs.each.iter()).collect();
            let value = ty::decode(&f.ty, &limits, &what)?;
            let b = &f.binding;
            Ok(quote!(let #b = #value;))
        })
        .collect::<syn::Result<Vec<_>>>()?;
    Ok(quote!(#(#parts)*))
}

fn expand_encode(input: &DeriveInput) -> syn::Result<Tokens> {
    let name = &input.ident;
    let (imp, tys, wher) = input.generics.split_for_impl();
    let codec = quote!(::machina_primitives::codec);
    let body = match &input.data {
        Data::Struct(s) => {
            let infos = field_infos(&s.fields)?;
            let pat = shape(quote!(#name), &s.fields, &infos);
            let enc = encode_fields(&infos)?;
            quote! {
                #[allow(unused_variables)]
                let #pat = self;
                #enc
            }
        }
        Data::Enum(e) => {
            let mut arms = Vec::new();
            for v in &e.variants {
                let tag = TypeAttrs::variant_tag(v)?;
                let infos = field_infos(&v.fields)?;
                let ident = &v.ident;
                let pat = shape(quote!(#name::#ident), &v.fields, &infos);
                let enc = encode_fields(&infos)?;
                arms.push(quote!(#pat => { out.push(#tag); #enc }));
            }
            quote!(match self { #(#arms)* })
        }
        Data::Union(_) => return Err(syn::Error::new_spanned(name, "unions have no encoding")),
    };
    let tagged = match &input.data {
        Data::Enum(e) => tagged_impl(input, e)?,
        _ => quote!(),
    };
    Ok(quote! {
        impl #imp #codec::Encode for #name #tys #wher {
            fn encode_to(&self, out: &mut ::std::vec::Vec<u8>) {
                #body
            }
        }
        #tagged
    })
}

/// `Tagged`: each variant's tag and snake_case name, for routing and session grants.
fn tagged_impl(input: &DeriveInput, e: &syn::DataEnum) -> syn::Result<Tokens> {
    let name = &input.ident;
    let (imp, tys, wher) = input.generics.split_for_impl();
    let mut entries = Vec::new();
    let mut tag_arms = Vec::new();
    let mut name_arms = Vec::new();
    for v in &e.variants {
        let tag = TypeAttrs::variant_tag(v)?;
        let ident = &v.ident;
        let snake = attrs::snake_case(&ident.to_string());
        entries.push(quote!((#tag, #snake)));
        tag_arms.push(quote!(#name::#ident { .. } => #tag,));
        name_arms.push(quote!(#name::#ident { .. } => #snake,));
    }
    Ok(quote! {
        impl #imp ::machina_primitives::codec::Tagged for #name #tys #wher {
            const TAGS: &'static [(u8, &'static str)] = &[#(#entries),*];
            fn tag(&self) -> u8 { match self { #(#tag_arms)* } }
            fn name(&self) -> &'static str { match self { #(#name_arms)* } }
        }
    })
}

fn expand_decode(input: &DeriveInput) -> syn::Result<Tokens> {
    let name = &input.ident;
    let (imp, tys, wher) = input.generics.split_for_impl();
    let codec = quote!(::machina_primitives::codec);
    let type_attrs = TypeAttrs::parse(&input.attrs)?;
    let container = type_attrs
        .what
        .clone()
        .unwrap_or_else(|| attrs::snake_case(&name.to_string()).replace('_', " "));
    let body = match &input.data {
        Data::Struct(s) => {
            let infos = field_infos(&s.fields)?;
            let dec = decode_fields(&infos, &container)?;
            let ctor = shape(quote!(#name), &s.fields, &infos);
            quote!(#dec Ok(#ctor))
        }
        Data::Enum(e) => {
            let mut arms = Vec::new();
            for v in &e.variants {
                let tag = TypeAttrs::variant_tag(v)?;
                let infos = field_infos(&v.fields)?;
                let ident = &v.ident;
                let dec = decode_fields(&infos, &container)?;
                let ctor = shape(quote!(#name::#ident), &v.fields, &infos);
                arms.push(quote!(#tag => { #dec Ok(#ctor) }));
            }
            quote! {
                match r.u8()? {
                    #(#arms)*
                    tag => Err(#codec::CodecError::BadTag { what: #container, tag }),
                }
            }
        }
        Data::Union(_) => return Err(syn::Error::new_spanned(name, "unions have no encoding")),
    };
    Ok(quote! {
        impl #imp #codec::Decode for #name #tys #wher {
            fn decode_from(r: &mut #codec::Reader<'_>) -> #codec::Result<Self> {
                #body
            }
        }
    })
}
