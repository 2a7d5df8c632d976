//! Signing in and out of the web UI: the login form, the session cookie, and the throttle that
//! slows password guessing.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use askama::Template;
use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use hindsight_domain::access::{
    Permission::Public, SESSION_ABSOLUTE_TIMEOUT, Session, normalize_email,
};
use serde::Deserialize;

use crate::AppState;
use crate::credentials::{hash_secret, new_secret, verify_password};
use crate::gate::{SECURE_SESSION_COOKIE, SESSION_COOKIE, session_secret};
use crate::pages::{Nav, PageError, render};
use crate::routes::Routes;

pub fn routes() -> Routes {
    Routes::new()
        .get("/login", Public, login_page)
        .post("/login", Public, login)
        .post("/logout", Public, logout)
}

/// Attempts allowed per account and per client address in [`WINDOW`].
const ATTEMPTS: usize = 10;
const WINDOW: Duration = Duration::from_secs(60);
/// Keys tracked before old ones are swept, so that a flood of addresses cannot grow the table.
const MAX_KEYS: usize = 100_000;

/// Counts sign-in attempts per key in a sliding window, in this process's memory: with
/// several instances, each counts its own.
#[derive(Default)]
pub struct Throttle {
    attempts: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Throttle {
    /// Records an attempt under every key, or says how long to wait if any key is spent.
    pub fn attempt(&self, keys: &[String], now: Instant) -> Result<(), Duration> {
        let mut attempts = self.attempts.lock().expect("throttle lock");
        if attempts.len() > MAX_KEYS {
            attempts.retain(|_, times| times.back().is_some_and(|last| now - *last < WINDOW));
        }
        let mut wait = None;
        for key in keys {
            let times = attempts.entry(key.clone()).or_default();
            while times.front().is_some_and(|first| now - *first >= WINDOW) {
                times.pop_front();
            }
            if times.len() >= ATTEMPTS {
                let until = WINDOW - (now - times[0]);
                wait = Some(wait.map_or(until, |other: Duration| other.max(until)));
            }
        }
        if let Some(wait) = wait {
            return Err(wait);
        }
        for key in keys {
            attempts.get_mut(key).expect("entered above").push_back(now);
        }
        Ok(())
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Nav,
    email: String,
    next: String,
    message: Option<&'static str>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginQuery {
    next: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    email: String,
    password: String,
    next: String,
}

/// Only a path on this site: never `//elsewhere` or `https://elsewhere`.
fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") {
        next
    } else {
        "/incidents"
    }
}

async fn login_page(query: Result<Query<LoginQuery>, QueryRejection>) -> Response {
    let next = query.map(|Query(query)| query.next).unwrap_or_default();
    render(
        StatusCode::OK,
        &LoginPage {
            nav: Nav::default(),
            email: String::new(),
            next: safe_next(&next).to_owned(),
            message: None,
        },
    )
}

const WRONG: &str = "The email or the password is wrong.";

async fn login(
    State(state): State<AppState>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form.map_err(|rejection| PageError {
        status: rejection.status(),
        title: "The form could not be read",
        message: rejection.body_text(),
    })?;
    let email = normalize_email(&form.email);
    let next = safe_next(&form.next).to_owned();
    let address = client.map_or("unknown".to_owned(), |Extension(ConnectInfo(address))| {
        address.ip().to_string()
    });
    let keys = [format!("email:{email}"), format!("address:{address}")];
    let audit = |action: &'static str, user_id, detail: &str| {
        crate::audit::record(
            &state,
            hindsight_domain::access::NewAuditEvent {
                occurred_at: state.clock.now(),
                user_id,
                actor: email.clone(),
                action,
                target: format!("account {email}"),
                detail: detail.to_owned(),
                address: (address != "unknown").then(|| address.clone()),
            },
        )
    };
    if let Err(wait) = state.login_throttle.attempt(&keys, Instant::now()) {
        audit("signin.throttled", None, "too many attempts in a minute").await;
        let mut response = render(
            StatusCode::TOO_MANY_REQUESTS,
            &LoginPage {
                nav: Nav::default(),
                email,
                next,
                message: Some("Too many attempts. Wait a minute, then try again."),
            },
        );
        let seconds = wait.as_secs().max(1).to_string();
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_str(&seconds).expect("digits are a header value"),
        );
        return Ok(response);
    }
    let found = state.store.find_user_by_email(&email).await?;
    let hash = found.as_ref().map(|(_, hash)| hash.clone());
    // The password is checked even for an unknown or disabled account, so that every refusal
    // takes as long as every other.
    let matches = verify_password(form.password, hash).await;
    let user = match found {
        Some((user, _)) if matches && !user.disabled => user,
        found => {
            let detail = match &found {
                None => "no such account",
                Some((user, _)) if user.disabled => "account disabled",
                Some(_) => "wrong password",
            };
            audit("signin.failed", found.map(|(user, _)| user.id), detail).await;
            tracing::info!(user.email = %email, "sign-in refused");
            return Ok(render(
                StatusCode::UNAUTHORIZED,
                &LoginPage {
                    nav: Nav::default(),
                    email,
                    next,
                    message: Some(WRONG),
                },
            ));
        }
    };
    let now = state.clock.now();
    let secret = new_secret("");
    state
        .store
        .create_session(Session {
            id_hash: hash_secret(&secret),
            user_id: user.id,
            created_at: now,
            last_seen_at: now,
        })
        .await?;
    audit("signin.succeeded", Some(user.id), "").await;
    tracing::info!(user.id = %user.id, "signed in");
    let mut response = Redirect::to(&next).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&state, &secret, false));
    Ok(response)
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    if let Some(secret) = session_secret(&headers) {
        state.store.delete_session(&hash_secret(&secret)).await?;
    }
    let mut response = Redirect::to("/login").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&state, "", true));
    Ok(response)
}

/// The session cookie: HttpOnly, SameSite=Lax, and behind TLS `Secure` with the `__Host-`
/// prefix. `expire` makes the browser drop it.
fn session_cookie(state: &AppState, secret: &str, expire: bool) -> HeaderValue {
    let max_age = if expire {
        0
    } else {
        SESSION_ABSOLUTE_TIMEOUT.as_secs()
    };
    let (name, secure) = if state.secure_cookies {
        (SECURE_SESSION_COOKIE, "; Secure")
    } else {
        (SESSION_COOKIE, "")
    };
    HeaderValue::from_str(&format!(
        "{name}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .expect("hex and fixed text are a header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eleventh_attempt_in_a_minute_waits() {
        let throttle = Throttle::default();
        let start = Instant::now();
        let keys = ["email:ana@example.com".to_owned()];
        for _ in 0..10 {
            assert!(throttle.attempt(&keys, start).is_ok());
        }
        assert!(throttle.attempt(&keys, start).is_err());
        assert!(throttle.attempt(&keys, start + WINDOW).is_ok());
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next("/incidents/4"), "/incidents/4");
        assert_eq!(safe_next("//evil.example"), "/incidents");
        assert_eq!(safe_next("https://evil.example"), "/incidents");
        assert_eq!(safe_next("/\\evil.example"), "/incidents");
    }
}
