//! Validation errors that name the field they concern, so every interface can show them
//! next to the input that caused them.

use serde::Serialize;
use utoipa::ToSchema;

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field as named in the API, with dots for nested fields (`impact.users_affected`).
    pub field: String,
    pub message: String,
}

/// Every problem found in one input; never empty when returned as an error.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.summary())]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first message for a field, for forms that show one message beside each input.
    pub fn message_for(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|error| error.field == field)
            .map(|error| error.message.as_str())
    }

    /// `Ok(value)` when nothing was found, the errors otherwise.
    pub fn into_result<T>(self, value: T) -> Result<T, Self> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }

    pub fn summary(&self) -> String {
        self.0
            .iter()
            .map(|error| format!("{}: {}", error.field, error.message))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Why no text in Hindsight may hold U+0000: PostgreSQL cannot store it, some tools end a
/// string there, and no person types it. Every interface refuses it before anything is stored,
/// so both backends hold the same texts.
pub const NUL_MESSAGE: &str = "must not contain the NUL character (U+0000)";

/// The field of a JSON document that first holds a NUL in a string or a key, named as the API
/// names fields (`events[0].text`); `None` when there is none.
pub fn nul_in_json(value: &serde_json::Value) -> Option<String> {
    fn walk(value: &serde_json::Value, path: &mut String) -> bool {
        match value {
            serde_json::Value::String(text) => text.contains('\0'),
            serde_json::Value::Array(items) => items.iter().enumerate().any(|(index, item)| {
                let length = path.len();
                path.push_str(&format!("[{index}]"));
                let found = walk(item, path);
                if !found {
                    path.truncate(length);
                }
                found
            }),
            serde_json::Value::Object(fields) => fields.iter().any(|(key, item)| {
                let length = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key.replace('\0', "\\u0000"));
                let found = key.contains('\0') || walk(item, path);
                if !found {
                    path.truncate(length);
                }
                found
            }),
            _ => false,
        }
    }
    let mut path = String::new();
    walk(value, &mut path).then(|| {
        if path.is_empty() {
            "body".to_owned()
        } else {
            path
        }
    })
}

/// The first of `fields` (name and value, as a form or a query string carries them) that
/// holds a NUL, refused with a message naming it.
pub fn refuse_nul<'a>(
    fields: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), ValidationErrors> {
    for (name, value) in fields {
        if name.contains('\0') || value.contains('\0') {
            return Err(ValidationErrors::single(
                name.replace('\0', "\\u0000"),
                NUL_MESSAGE,
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod nul_tests {
    use super::*;

    #[test]
    fn a_nul_anywhere_in_a_json_body_is_found_by_its_field() {
        let body =
            serde_json::json!({"title": "fine", "events": [{"text": "ok"}, {"text": "a\u{0}b"}]});
        assert_eq!(nul_in_json(&body).as_deref(), Some("events[1].text"));
        assert_eq!(nul_in_json(&serde_json::json!({"title": "fine"})), None);
        assert_eq!(
            nul_in_json(&serde_json::json!("a\u{0}")).as_deref(),
            Some("body")
        );
    }

    #[test]
    fn a_nul_in_a_form_field_names_that_field() {
        let errors = refuse_nul([("title", "ok"), ("service", "a\u{0}b")]).unwrap_err();
        assert_eq!(errors.0[0].field, "service");
        assert_eq!(errors.0[0].message, NUL_MESSAGE);
        assert!(refuse_nul([("title", "ok")]).is_ok());
    }
}
