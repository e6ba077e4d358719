//! The hub's static files, compiled into the binary: the stylesheet and the page scripts that
//! `build.rs` bundles from `web/src` with esbuild.

use axum::{
    extract::Path,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

/// Where the stylesheet is served.
pub(crate) const CSS_PATH: &str = "/static/hub.css";
/// Where the script every page loads is served.
pub(crate) const HUB_JS_PATH: &str = "/static/hub.js";
/// Where the wallet script (connection, buy, download) is served: pages with actions load it,
/// others when the user connects a wallet (hub.js imports it).
pub(crate) const WALLET_JS_PATH: &str = "/static/wallet.js";
/// Where the job page's receipt check is served.
pub(crate) const RECEIPT_JS_PATH: &str = "/static/receipt.js";

const CSS: &str = include_str!("hub.css");
const HUB_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/web/hub.js"));
const RECEIPT_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/web/receipt.js"));
const WALLET_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/web/wallet.js"));

/// `GET /static/{file}`.
pub(crate) async fn file(Path(file): Path<String>) -> Response {
    let (body, kind): (&'static [u8], &str) = match file.as_str() {
        "hub.css" => (CSS.as_bytes(), "text/css; charset=utf-8"),
        "hub.js" => (HUB_JS, "text/javascript; charset=utf-8"),
        "receipt.js" => (RECEIPT_JS, "text/javascript; charset=utf-8"),
        "wallet.js" => (WALLET_JS, "text/javascript; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "no such file").into_response(),
    };
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}
