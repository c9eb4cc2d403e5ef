//! The `#[codec(...)]` attributes.

use syn::{Attribute, Expr, LitInt, LitStr, Variant};

/// Limits and naming of one field.
#[derive(Default)]
pub(crate) struct FieldAttrs {
    /// Most bytes of a string or items of a list.
    pub max: Option<Expr>,
    /// For a list of strings: most bytes of each.
    pub each: Option<Expr>,
    /// How decoding errors name the field.
    pub what: Option<String>,
}

impl FieldAttrs {
    pub(crate) fn parse(attrs: &[Attribute]) -> syn::Result<FieldAttrs> {
        let mut out = FieldAttrs::default();
        for a in attrs.iter().filter(|a| a.path().is_ident("codec")) {
            a.parse_nested_meta(|m| {
                if m.path.is_ident("max") {
                    out.max = Some(m.value()?.parse()?);
                } else if m.path.is_ident("each") {
                    out.each = Some(m.value()?.parse()?);
                } else if m.path.is_ident("what") {
                    out.what = Some(m.value()?.parse::<LitStr>()?.value());
                } else {
                    return Err(m.error("expected max, each or what"));
                }
                Ok(())
            })?;
        }
        Ok(out)
    }
}

/// Attributes of the type itself.
#[derive(Default)]
pub(crate) struct TypeAttrs {
    /// How decoding errors name the type.
    pub what: Option<String>,
}

impl TypeAttrs {
    pub(crate) fn parse(attrs: &[Attribute]) -> syn::Result<TypeAttrs> {
        let mut out = TypeAttrs::default();
        for a in attrs.iter().filter(|a| a.path().is_ident("codec")) {
            a.parse_nested_meta(|m| {
                if m.path.is_ident("what") {
                    out.what = Some(m.value()?.parse::<LitStr>()?.value());
                    Ok(())
                } else {
                    Err(m.error("expected what"))
                }
            })?;
        }
        Ok(out)
    }

    /// A variant's explicit `#[codec(tag = N)]`.
    pub(crate) fn variant_tag(v: &Variant) -> syn::Result<u8> {
        let mut tag = None;
        for a in v.attrs.iter().filter(|a| a.path().is_ident("codec")) {
            a.parse_nested_meta(|m| {
                if m.path.is_ident("tag") {
                    tag = Some(m.value()?.parse::<LitInt>()?.base10_parse::<u8>()?);
                    Ok(())
                } else {
                    Err(m.error("expected tag"))
                }
            })?;
        }
        tag.ok_or_else(|| {
            syn::Error::new_spanned(
                &v.ident,
                "every variant needs an explicit #[codec(tag = N)]",
            )
        })
    }
}

/// `RegisterMachine` -> `register_machine`, as serde's `rename_all = "snake_case"` spells it.
pub(crate) fn snake_case(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
