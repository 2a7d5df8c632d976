//! A client-side check generated from the OpenAPI document: every answer an API story gets is
//! checked against what `/api/openapi.json` says that operation answers, so a story that
//! passes is also proof that the document tells the truth about it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use axum::http::{HeaderMap, Method, StatusCode, header};
use serde_json::Value;

/// The document, as the server serves it.
fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(hindsight_http::openapi_document)
}

/// The path template of the document that `path` is an instance of: literal segments beat
/// `{parameters}`, so `/action-items/export/csv` is the export, not an item.
fn template_of(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    document()["paths"]
        .as_object()?
        .keys()
        .filter_map(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                return None;
            }
            let mut literal = 0;
            for (part, segment) in parts.iter().zip(&segments) {
                if part.starts_with('{') && part.ends_with('}') {
                    if segment.is_empty() {
                        return None;
                    }
                } else if part == segment {
                    literal += 1;
                } else {
                    return None;
                }
            }
            Some((literal, template.as_str()))
        })
        .max_by_key(|(literal, _)| *literal)
        .map(|(_, template)| template)
}

type Validator = Arc<jsonschema::Validator>;

fn validator(schema: &Value) -> Validator {
    static CACHE: OnceLock<Mutex<HashMap<String, Validator>>> = OnceLock::new();
    let key = schema.to_string();
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some(found) = cache.lock().unwrap().get(&key) {
        return Arc::clone(found);
    }
    // The response schema, with the document's components beside it so that its
    // `#/components/schemas/…` references resolve.
    let mut root = schema.clone();
    if let Some(object) = root.as_object_mut() {
        object.insert("components".into(), document()["components"].clone());
    }
    let compiled = Arc::new(
        jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|error| {
                panic!("the document's schema {key} does not compile: {error}")
            }),
    );
    cache.lock().unwrap().insert(key, Arc::clone(&compiled));
    compiled
}

/// Checks one answer against the document; panics naming the operation and what differs.
pub fn check(method: &Method, path: &str, status: StatusCode, headers: &HeaderMap, body: &[u8]) {
    if !path.starts_with("/api/") || path == "/api/openapi.json" {
        return;
    }
    // Methods the API does not serve are refused by the gate before any operation.
    if status == StatusCode::METHOD_NOT_ALLOWED {
        return;
    }
    let Some(template) = template_of(path) else {
        // An unknown path is the fallback's 404.
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{method} {path} is not in the document"
        );
        return;
    };
    let method_name = if method == Method::HEAD {
        "get".to_owned()
    } else {
        method.as_str().to_ascii_lowercase()
    };
    let operation = &document()["paths"][template][&method_name];
    assert!(
        operation.is_object(),
        "{method} {template} answered {status} but the document has no such operation"
    );
    let responses = &operation["responses"];
    let response = responses
        .get(status.as_str())
        .or_else(|| responses.get("default"))
        .unwrap_or_else(|| {
            panic!(
                "{method} {template} answered {status}, which the document does not list (it lists {})",
                responses.as_object().unwrap().keys().cloned().collect::<Vec<_>>().join(", ")
            )
        });
    if method == Method::HEAD || body.is_empty() {
        return;
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_owned();
    let content = &response["content"];
    let Some(media) = content.get(&content_type) else {
        panic!(
            "{method} {template} answered {status} as `{content_type}`, which the document does \
             not list for it ({})",
            content
                .as_object()
                .map(|object| object.keys().cloned().collect::<Vec<_>>().join(", "))
                .unwrap_or_default()
        );
    };
    if content_type != "application/json" {
        return;
    }
    let Some(schema) = media.get("schema") else {
        return;
    };
    let answer: Value = serde_json::from_slice(body).unwrap_or_else(|error| {
        panic!("{method} {template} answered {status} with bad JSON: {error}")
    });
    let validator = validator(schema);
    let problems: Vec<String> = validator
        .iter_errors(&answer)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .take(5)
        .collect();
    assert!(
        problems.is_empty(),
        "{method} {template} answered {status} with a body the document does not describe: {problems:#?}\nbody: {}",
        String::from_utf8_lossy(&body[..body.len().min(2000)])
    );
}
