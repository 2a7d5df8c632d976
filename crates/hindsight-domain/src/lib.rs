//! The rules of the postmortem process, as pure types and functions.
//!
//! This crate holds what Hindsight knows about incidents (and, later, postmortems, policy and
//! action items) independent of how they are stored or served. It must not do IO: no files,
//! no network, no database, no async, no reading of the system clock. Whatever depends on the
//! current time takes it as an argument, so the rules are tested with fixed instants.

#[macro_use]
mod text_enum;
pub mod access;
pub mod action_item;
pub mod calendar;
pub mod clock;
pub mod document;
pub mod draft;
pub mod image;
pub mod incident;
pub mod intake;
pub mod lint;
pub mod markdown_file;
pub mod meeting;
pub mod notify;
pub mod policy;
pub mod postmortem;
pub mod slack;
pub mod timeline;
pub mod validation;

pub use clock::{Clock, FixedClock, to_stored_precision};
pub use incident::{
    CauseOrigin, Detection, Impact, ImpactDraft, ImpactPatch, Incident, IncidentContent,
    IncidentCursor, IncidentDraft, IncidentFilter, IncidentId, IncidentPage, IncidentPatch,
    IncidentQuery, IncidentStatus, Members, MembersDraft, Severity, ValidIncident,
};
pub use validation::{FieldError, ValidationErrors};
