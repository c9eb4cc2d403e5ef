//! The dashboard and explorer at `/ui`: a single page of plain HTML, CSS and ES-module
//! JavaScript (in `crates/node/api/ui/`), compiled into the binary, that reads the node's own
//! `/v1` routes and follows `/v1/ws`. There is no build step and no third-party code.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use machina_module_api::{quote, ApiError, ApiPath, ReadHost, Routes};
use std::sync::OnceLock;

/// The dashboard's routes: the page, and its assets by file name.
pub const UI_ROUTES: [&str; 2] = ["/ui", "/ui/{file}"];

/// Each asset: file name, content type and content.
pub const UI_ASSETS: [(&str, &str, &str); 6] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../ui/index.html"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../ui/style.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/app.js"),
    ),
    (
        "lib.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/lib.js"),
    ),
    (
        "pages.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/pages.js"),
    ),
    (
        "machines.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/machines.js"),
    ),
];

/// Browsers revalidate every asset (a node may be upgraded under an open tab) and get 304
/// when the ETag still matches.
const CACHE_CONTROL: &str = "no-cache";

/// The routes, for the API's route table.
pub(crate) fn routes<H: ReadHost>() -> Routes<H> {
    vec![
        (UI_ROUTES[0], "get", get(page)),
        (UI_ROUTES[1], "get", get(asset)),
    ]
}

/// Each asset's ETag: a prefix of the SHA-256 of its content, computed once.
fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        UI_ASSETS
            .iter()
            .map(|(_, _, body)| {
                let h = machina_primitives::sha256(&[body.as_bytes()]);
                format!("\"{}\"", hex::encode(&h.0[..8]))
            })
            .collect()
    })
}

fn serve(i: usize, headers: &HeaderMap) -> Response {
    let (_, content_type, body) = UI_ASSETS[i];
    let tag = &etags()[i];
    let common = [
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL),
        ),
        (
            header::ETAG,
            HeaderValue::from_str(tag).expect("hex is a header value"),
        ),
    ];
    let matched = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    if matched {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

async fn page(headers: HeaderMap) -> Response {
    serve(0, &headers)
}

async fn asset(ApiPath(file): ApiPath<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let i = UI_ASSETS
        .iter()
        .position(|(name, _, _)| *name == file)
        .ok_or_else(|| ApiError::not_found(format!("no dashboard file {}", quote(&file))))?;
    Ok(serve(i, &headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_page_imports_is_served() {
        let names: Vec<&str> = UI_ASSETS.iter().map(|(n, _, _)| *n).collect();
        for (_, _, body) in UI_ASSETS {
            for part in body.split("from \"./").skip(1) {
                let file = part.split('"').next().expect("a closing quote");
                assert!(names.contains(&file), "{file} is imported but not served");
            }
        }
        let page = UI_ASSETS[0].2;
        for file in ["style.css", "app.js"] {
            assert!(page.contains(&format!("/ui/{file}")), "{file} not linked");
        }
    }

    #[test]
    fn etags_differ_between_assets() {
        let tags = etags();
        for (i, a) in tags.iter().enumerate() {
            assert!(tags[i + 1..].iter().all(|b| b != a));
        }
    }
}
