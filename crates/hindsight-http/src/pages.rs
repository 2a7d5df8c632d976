//! What every page shares: the layout's assets, the HTML error page, and display helpers.

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use hindsight_domain::access::Actor;
use hindsight_domain::access::Permission::{self, Public};
use hindsight_store::StoreError;
use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::routes::Routes;

const STYLESHEET: &str = include_str!("../assets/hindsight.css");

pub fn routes() -> Routes {
    Routes::new()
        .get("/", Public, || async { Redirect::to("/incidents") })
        .get("/assets/hindsight.css", Public, stylesheet)
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
}

/// Renders a page, or the error page if the template fails.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => PageError::internal(&error).into_response(),
    }
}

/// What the layout shows of the person looking: their name, and whether to offer changes.
#[derive(Debug, Clone, Default)]
pub struct Nav {
    pub who: Option<String>,
    pub can_write: bool,
    pub is_admin: bool,
}

impl Nav {
    pub fn of(actor: Option<&Actor>) -> Self {
        Self {
            who: actor.map(|actor| actor.user.display_name.clone()),
            can_write: actor.is_some_and(|actor| actor.can(Permission::Write)),
            is_admin: actor.is_some_and(|actor| actor.can(Permission::Admin)),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nav: Nav,
    title: &'a str,
    message: &'a str,
}

/// An error shown to a person, as a page.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: String,
}

impl PageError {
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            title: "Not found",
            message: message.into(),
        }
    }

    /// Input a form sent that the rules refuse, every problem named.
    pub fn invalid(errors: &hindsight_domain::ValidationErrors) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            title: "Check what you entered",
            message: errors.summary(),
        }
    }

    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            title: "Something went wrong",
            message: "Something went wrong on the server; it has been logged. Nothing you \
                      entered was saved; go back to try again."
                .into(),
        }
    }
}

impl From<StoreError> for PageError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::not_found("There is nothing here."),
            StoreError::Invalid(errors) => Self::invalid(&errors),
            StoreError::Conflict(message) => Self {
                status: StatusCode::CONFLICT,
                title: "Already there",
                message,
            },
            StoreError::Unavailable(outage, detail) => {
                crate::error::report_outage(outage, &detail);
                let message = crate::error::outage_message(outage);
                let mut first = message.chars();
                let message = first
                    .next()
                    .map(|letter| letter.to_uppercase().chain(first).collect::<String>())
                    .unwrap_or_default();
                Self {
                    status: crate::error::outage_status(outage).0,
                    title: "Unavailable",
                    message: format!("{message}. Go back to keep what you typed."),
                }
            }
            other => Self::internal(&other),
        }
    }
}

/// A form body that cannot be read, as a page.
impl From<axum::extract::rejection::FormRejection> for PageError {
    fn from(rejection: axum::extract::rejection::FormRejection) -> Self {
        Self {
            status: rejection.status(),
            title: "The form could not be read",
            message: rejection.body_text(),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            nav: Nav::default(),
            title: self.title,
            message: &self.message,
        };
        let mut response = match page.render() {
            Ok(html) => (self.status, Html(html)).into_response(),
            Err(_) => (self.status, self.message).into_response(),
        };
        if let Some(seconds) = crate::error::retry_after(self.status) {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(seconds),
            );
        }
        response
    }
}

/// A time as pages show it: `2026-11-20 14:10 UTC`.
pub fn display_time(time: Timestamp) -> String {
    time.to_zoned(TimeZone::UTC)
        .strftime("%Y-%m-%d %H:%M UTC")
        .to_string()
}
