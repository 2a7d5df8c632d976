//! The router and its authorization table, built together: a route can only be added with the
//! permission it needs, so no route exists that the gate does not know about.

use std::collections::HashMap;

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use hindsight_domain::access::Permission;

use crate::AppState;

/// One line of the authorization table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRule {
    pub method: &'static str,
    pub path: &'static str,
    pub permission: Permission,
}

#[derive(Default)]
pub struct Routes {
    router: Router<AppState>,
    rules: Vec<RouteRule>,
}

macro_rules! method {
    ($name:ident, $method:literal, $make:ident) => {
        pub fn $name<H, T>(self, path: &'static str, permission: Permission, handler: H) -> Self
        where
            H: Handler<T, AppState>,
            T: 'static,
        {
            self.add($method, path, permission, $make(handler))
        }
    };
}

impl Routes {
    pub fn new() -> Self {
        Self::default()
    }

    method!(get, "GET", get);
    method!(post, "POST", post);
    method!(patch, "PATCH", patch);
    method!(put, "PUT", put);
    method!(delete, "DELETE", delete);

    /// A POST whose handler streams a large upload and enforces its own limit: the request
    /// body limit every other route has does not apply to it.
    pub fn post_upload<H, T>(self, path: &'static str, permission: Permission, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let route = post(handler).layer(axum::extract::DefaultBodyLimit::disable());
        self.add("POST", path, permission, route)
    }

    fn add(
        mut self,
        method: &'static str,
        path: &'static str,
        permission: Permission,
        handler: MethodRouter<AppState>,
    ) -> Self {
        self.router = self.router.route(path, handler);
        self.rules.push(RouteRule {
            method,
            path,
            permission,
        });
        self
    }

    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.rules.extend(other.rules);
        self
    }

    pub fn into_parts(self) -> (Router<AppState>, Vec<RouteRule>) {
        (self.router, self.rules)
    }
}

/// The table as the gate looks it up.
pub struct RuleTable {
    by_route: HashMap<(&'static str, &'static str), Permission>,
}

impl RuleTable {
    pub fn new(rules: &[RouteRule]) -> Self {
        Self {
            by_route: rules
                .iter()
                .map(|rule| ((rule.method, rule.path), rule.permission))
                .collect(),
        }
    }

    /// What a request to `path` (a route pattern) with `method` needs. HEAD follows GET's
    /// rule; any other method without a rule of its own is refused, so nothing answers a
    /// method the table does not name.
    pub fn rule(&self, method: &str, path: &str) -> Rule {
        let method = if method == "HEAD" { "GET" } else { method };
        match self.by_route.get(&(method, path)) {
            Some(permission) => Rule::Needs(*permission),
            None if self.by_route.keys().any(|(_, known)| *known == path) => Rule::NoSuchMethod,
            None => Rule::Unknown,
        }
    }

    /// The methods `path` answers, for the `Allow` header of a 405.
    pub fn allowed(&self, path: &str) -> Vec<&'static str> {
        let mut methods: Vec<&'static str> = self
            .by_route
            .keys()
            .filter(|(_, known)| *known == path)
            .map(|(method, _)| *method)
            .collect();
        if methods.contains(&"GET") {
            methods.push("HEAD");
        }
        methods.sort_unstable();
        methods
    }
}

/// What the table says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Needs(Permission),
    /// The path is served, but not with this method: 405, before anything else runs.
    NoSuchMethod,
    /// A route pattern the table does not know: a bug, refused.
    Unknown,
}
