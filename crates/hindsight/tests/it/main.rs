//! Tests of the real `hindsight` binary: started as a person would start it, spoken to over
//! real HTTP, and driven through a real browser.

mod alertmanager;
mod backup;
mod browser;
mod cli;
mod faults;
mod jobs;
mod meeting;
mod openapi;
mod postmortem;
mod support;
