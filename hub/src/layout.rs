//! The page shell every page shares (head with its title and Open Graph tags, header with the
//! search box and navigation, footer), and the error pages.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use maud::{DOCTYPE, Markup, html};

/// What a page says about itself in its `<head>`.
pub(crate) struct Head {
    /// The `<title>` and `og:title`.
    pub title: String,
    /// The meta and `og:description`.
    pub description: String,
    /// Extra page scripts (besides `hub.js`), as `/static/…` paths.
    pub scripts: &'static [&'static str],
}

impl Head {
    pub(crate) fn new(title: impl Into<String>, description: impl Into<String>) -> Self {
        Self { title: title.into(), description: description.into(), scripts: &[] }
    }
}

/// A whole page: `main` holds `body`; `main_attrs` lets a page mark itself live.
pub(crate) fn page(head: Head, live_job: Option<&str>, body: Markup) -> Markup {
    let title = format!("{} · Agora", head.title);
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) }
                meta name="description" content=(head.description);
                meta property="og:site_name" content="Agora";
                meta property="og:type" content="website";
                meta property="og:title" content=(title);
                meta property="og:description" content=(head.description);
                link rel="stylesheet" href=(crate::assets::CSS_PATH);
                link rel="icon" href="data:,";
                script type="module" src=(crate::assets::HUB_JS_PATH) {}
                @for script in head.scripts {
                    script type="module" src=(script) {}
                }
            }
            body {
                a.skip href="#content" { "Skip to content" }
                header.site {
                    a.brand href="/" { "Agora" }
                    form.search role="search" aria-label="Site search" action="/assets" method="get" {
                        input type="search" name="q" placeholder="Search datasets, models, algorithms" aria-label="Search assets";
                        button type="submit" { "Search" }
                    }
                    nav aria-label="Main" {
                        a href="/assets" { "Catalogue" }
                        a href="/dao" { "DAO" }
                        a href="/providers" { "Providers" }
                        a href="/jobs" { "Jobs" }
                        a href="/publish" { "Publish" }
                    }
                    // hub.js offers to connect and loads the wallet script (heavy: viem) only then, or
                    // at once on pages with actions and for a wallet remembered from an earlier page.
                    div #wallet.wallet aria-live="polite" data-script=(crate::assets::WALLET_JS_PATH) {}
                }
                main #content tabindex="-1" data-live-job=[live_job] { (body) }
                footer.site {
                    p { "Agora: datasets, models and algorithms owned on chain, verified by content hash. "
                        a href="/openapi.json" { "API" } }
                }
            }
        }
    }
}

/// Why a page could not be shown; each is its own page with its own status.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PageError {
    /// The id names nothing (404, with a search box).
    #[error("{0} not found")]
    NotFound(String),
    /// A parameter is invalid (400).
    #[error("{0}")]
    BadRequest(String),
    /// A service the page needs did not answer (503, naming it).
    #[error("the {service} at {url} is unreachable")]
    Unavailable {
        /// `indexer` or `provider`.
        service: &'static str,
        /// Where it was looked for.
        url: String,
    },
    /// A service answered with an error of its own (502).
    #[error("the {service} answered {status}: {message}")]
    Upstream {
        /// `indexer` or `provider`.
        service: &'static str,
        /// Its HTTP status.
        status: u16,
        /// Its message.
        message: String,
    },
}

impl PageError {
    fn status(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Upstream { .. } => StatusCode::BAD_GATEWAY,
        }
    }
}

impl From<agora_api::ClientError> for PageError {
    fn from(err: agora_api::ClientError) -> Self {
        use agora_api::ClientError;
        match err {
            ClientError::Unreachable { url, .. } => {
                Self::Unavailable { service: "indexer", url: origin(&url) }
            }
            ClientError::Api { status: 404, message } => {
                Self::NotFound(message.trim_end_matches(" not found").to_owned())
            }
            ClientError::Api { status: 400, message } => Self::BadRequest(message),
            ClientError::Api { status, message } => Self::Upstream { service: "indexer", status, message },
            ClientError::Decode { url, source } => Self::Upstream {
                service: "indexer",
                status: 200,
                message: format!("an answer from {} that is not the API's: {source}", origin(&url)),
            },
        }
    }
}

/// A URL's scheme, host and port: where a service is, without the path of the request.
fn origin(url: &str) -> String {
    url::Url::parse(url).map(|u| u.origin().ascii_serialization()).unwrap_or_else(|_| url.to_owned())
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(error = %self, "page failed");
        }
        let (title, body) = match &self {
            Self::NotFound(what) => (
                "Not found".to_owned(),
                html! {
                    h1 { "Not found" }
                    p { "There is no " (what) " here. It may not exist yet, or the indexer has not reached the block that creates it." }
                    form.search.wide role="search" aria-label="Search again" action="/assets" method="get" {
                        input type="search" name="q" placeholder="Search the catalogue" aria-label="Search the catalogue";
                        button type="submit" { "Search" }
                    }
                },
            ),
            Self::BadRequest(message) => (
                "Bad request".to_owned(),
                html! { h1 { "Bad request" } p { (message) } p { a href="/assets" { "Back to the catalogue" } } },
            ),
            Self::Unavailable { service, url } => (
                format!("The {service} is unreachable"),
                html! {
                    h1 { "The " (service) " is unreachable" }
                    p.unavailable data-service=(service) { "The hub could not reach the " (service) " at " code { (url) } ". The page will work again once it answers; try again in a moment." }
                },
            ),
            Self::Upstream { service, status, message } => (
                format!("The {service} failed"),
                html! {
                    h1 { "The " (service) " failed" }
                    p { "It answered " (status) ": " (message) }
                },
            ),
        };
        let markup = page(Head::new(title, self.to_string()), None, body);
        (status, markup).into_response()
    }
}
