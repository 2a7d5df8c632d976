use super::*;
use crate::IncidentDraft;
use crate::document::Author;

const NOW: &str = "2026-11-21T18:00:00Z";

/// An incident from the JSON a client would send, on top of a SEV3 that started at noon.
fn incident(json: &str) -> IncidentContent {
    let mut draft: IncidentDraft = serde_json::from_str(json).unwrap();
    draft.title.get_or_insert_with(|| "Checkout errors".into());
    draft.severity.get_or_insert_with(|| "SEV3".into());
    draft
        .started_at
        .get_or_insert_with(|| "2026-11-20T12:00:00Z".into());
    draft.validate(NOW.parse().unwrap()).unwrap().into_content()
}

fn request(name: &str, reason: &str) -> PostmortemRequest {
    PostmortemRequest {
        requested_by: Author {
            user_id: None,
            name: name.into(),
        },
        reason: reason.into(),
        at: NOW.parse().unwrap(),
    }
}

fn fired(decision: &PolicyDecision) -> Vec<&'static str> {
    decision
        .rules
        .iter()
        .map(|rule| rule.rule.as_str())
        .collect()
}

/// Every rule, alone and in the combinations the seeds argue about, with the decision and the
/// rules that fired.
#[test]
fn the_default_policy_decides_each_incident_with_every_rule_that_fired() {
    use PolicyOutcome::*;
    let asked = [request("Sam", "I would like to understand the near miss")];
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a [PostmortemRequest],
        PolicyOutcome,
        &'a [&'a str],
    );
    let cases: &[Case] = &[
        ("a quiet SEV3", r#"{}"#, &[], NotNeeded, &[]),
        (
            "SEV1",
            r#"{"severity":"SEV1"}"#,
            &[],
            Required,
            &["severity"],
        ),
        (
            "SEV2 is at the threshold",
            r#"{"severity":"SEV2"}"#,
            &[],
            Required,
            &["severity"],
        ),
        (
            "31 minutes of downtime",
            r#"{"impact":{"user_visible_minutes":31}}"#,
            &[],
            Required,
            &["downtime"],
        ),
        (
            "30 minutes of downtime is not beyond 30",
            r#"{"impact":{"user_visible_minutes":30}}"#,
            &[],
            NotNeeded,
            &[],
        ),
        (
            "data loss",
            r#"{"impact":{"data_loss":true}}"#,
            &[],
            Required,
            &["data_loss"],
        ),
        (
            "a rollback",
            r#"{"tags":["Rollback"]}"#,
            &[],
            Required,
            &["intervention"],
        ),
        (
            "found by a customer",
            r#"{"detection":"human"}"#,
            &[],
            Required,
            &["monitoring_failure"],
        ),
        (
            "found by an alert",
            r#"{"detection":"monitoring"}"#,
            &[],
            NotNeeded,
            &[],
        ),
        (
            "a breach",
            r#"{"impact":{"security_breach":true}}"#,
            &[],
            Required,
            &["security_breach"],
        ),
        (
            "a drop in conversion",
            r#"{"impact":{"business":{"conversion":-0.12}}}"#,
            &[],
            Required,
            &["business_harm"],
        ),
        (
            "290k timed-out requests",
            r#"{"impact":{"requests_failed":290000}}"#,
            &[],
            Required,
            &["business_harm"],
        ),
        (
            "five hours to resolve",
            r#"{"detected_at":"2026-11-20T12:10:00Z","resolved_at":"2026-11-20T17:10:00Z"}"#,
            &[],
            Recommended,
            &["slow_resolution"],
        ),
        (
            "a near miss someone asked about",
            r#"{"severity":"SEV4"}"#,
            &asked,
            Required,
            &["requested", "minor"],
        ),
        (
            "a minor SEV4",
            r#"{"severity":"SEV4"}"#,
            &[],
            NotNeeded,
            &["minor"],
        ),
        (
            "an external outage with long downtime",
            r#"{"cause_origin":"external","impact":{"user_visible_minutes":120}}"#,
            &[],
            Recommended,
            &["downtime", "external_cause"],
        ),
        (
            "data loss with an external cause",
            r#"{"cause_origin":"external","impact":{"data_loss":true,"user_visible_minutes":120}}"#,
            &[],
            Required,
            &["downtime", "data_loss", "external_cause"],
        ),
        (
            "a breach during maintenance",
            r#"{"tags":["maintenance"],"impact":{"security_breach":true}}"#,
            &[],
            Required,
            &["security_breach", "maintenance"],
        ),
        (
            "slow maintenance is lowered to not needed",
            r#"{"tags":["maintenance"],"detected_at":"2026-11-20T12:00:00Z","resolved_at":"2026-11-20T18:00:00Z"}"#,
            &[],
            NotNeeded,
            &["slow_resolution", "maintenance"],
        ),
        (
            "two reasons against lower by one step only",
            r#"{"severity":"SEV1","tags":["maintenance"],"cause_origin":"external","impact":{"user_visible_minutes":5}}"#,
            &[],
            Recommended,
            &["severity", "maintenance", "external_cause"],
        ),
    ];
    let config = PolicyConfig::default();
    for (name, json, requests, outcome, rules) in cases {
        let content = incident(json);
        let decision = evaluate(
            &config,
            PolicyFacts {
                incident: &content,
                requests,
            },
        );
        assert_eq!(decision.outcome, *outcome, "{name}: {decision:#?}");
        assert_eq!(fired(&decision), *rules, "{name}");
        assert!(
            decision.rules.iter().all(|rule| !rule.reason.is_empty()),
            "{name}"
        );
    }
}

#[test]
fn the_explanation_says_what_lowered_what_and_what_stayed_firm() {
    let content = incident(
        r#"{"cause_origin":"external","impact":{"data_loss":true,"user_visible_minutes":120}}"#,
    );
    let decision = evaluate(
        &PolicyConfig::default(),
        PolicyFacts {
            incident: &content,
            requests: &[],
        },
    );
    assert_eq!(
        decision.explanation,
        "Required by data loss. External cause lowered downtime by one step; data loss is firm \
         and counts in full."
    );
    let downtime = &decision.rules[0];
    assert_eq!(downtime.counts_as, Some(PolicyOutcome::Recommended));
    assert!(downtime.lowered);
    assert_eq!(
        downtime.reason,
        "User-visible downtime or degradation of 120 minutes is beyond the 30 minute threshold."
    );
}

#[test]
fn a_request_names_who_asked_and_why() {
    let content = incident("{}");
    let requests = [request("Sam", "the same cache failed last month")];
    let decision = evaluate(
        &PolicyConfig::default(),
        PolicyFacts {
            incident: &content,
            requests: &requests,
        },
    );
    assert_eq!(decision.outcome, PolicyOutcome::Required);
    assert_eq!(
        decision.rules[0].reason,
        "Asked for by Sam (“the same cache failed last month”)."
    );
}

#[test]
fn every_threshold_and_level_is_adjustable() {
    let config: PolicyConfig = toml::from_str(
        r#"
        severity_at_or_above = "SEV1"
        downtime_minutes = 5
        firm = ["data_loss"]
        reasons_against = ["external_cause"]
        [levels]
        monitoring_failure = "recommended"
        business_harm = "off"
        "#,
    )
    .unwrap();
    config.check().unwrap();
    let judge_json = |json: &str| {
        evaluate(
            &config,
            PolicyFacts {
                incident: &incident(json),
                requests: &[],
            },
        )
    };
    assert_eq!(
        judge_json(r#"{"severity":"SEV2"}"#).outcome,
        PolicyOutcome::NotNeeded
    );
    assert_eq!(
        judge_json(r#"{"impact":{"user_visible_minutes":6}}"#).outcome,
        PolicyOutcome::Required
    );
    assert_eq!(
        judge_json(r#"{"detection":"human"}"#).outcome,
        PolicyOutcome::Recommended
    );
    let harmed = judge_json(r#"{"impact":{"users_affected":5000}}"#);
    assert_eq!(harmed.outcome, PolicyOutcome::NotNeeded);
    assert!(harmed.rules.is_empty(), "a rule switched off is not listed");
    // Maintenance is no longer a reason against.
    assert_eq!(
        judge_json(r#"{"tags":["maintenance"],"impact":{"user_visible_minutes":6}}"#).outcome,
        PolicyOutcome::Required
    );
}

#[test]
fn a_configuration_that_mixes_triggers_and_reasons_against_is_refused() {
    let config = PolicyConfig {
        firm: vec![PolicyRule::ExternalCause],
        ..PolicyConfig::default()
    };
    assert!(config.check().unwrap_err().contains("firm"));
    let unknown = toml::from_str::<PolicyConfig>("downtime_minuts = 5").unwrap_err();
    assert!(unknown.to_string().contains("downtime_minuts"), "{unknown}");
}

#[test]
fn an_override_decides_and_a_required_postmortem_is_due_five_business_days_after_resolution() {
    let content = incident(
        r#"{"severity":"SEV1","owner":"alex@example.com","resolved_at":"2026-11-20T16:00:00Z"}"#,
    );
    let config = PolicyConfig {
        fallback_owner: Some("lead@example.com".into()),
        ..PolicyConfig::default()
    };
    let verdict = judge(&config, &content, &[], None);
    assert_eq!(verdict.outcome, PolicyOutcome::Required);
    let pending = verdict.pending.unwrap();
    // Resolved on Friday 20 November: due the next Friday.
    assert_eq!(pending.due_on, Some(jiff::civil::date(2026, 11, 27)));
    assert_eq!(
        pending.owner_candidates,
        ["alex@example.com", "lead@example.com"]
    );

    let override_ = PolicyOverride {
        outcome: Some(PolicyOutcome::NotNeeded),
        justification: "A load test in staging, paged by mistake".into(),
        by: Author {
            user_id: None,
            name: "Kim".into(),
        },
        at: NOW.parse().unwrap(),
    };
    let verdict = judge(&config, &content, &[], Some(&override_));
    assert_eq!(verdict.decision.outcome, PolicyOutcome::Required);
    assert_eq!(verdict.outcome, PolicyOutcome::NotNeeded);
    assert_eq!(verdict.pending, None);
}

#[test]
fn an_unresolved_incident_has_no_due_date_yet() {
    let content = incident(r#"{"severity":"SEV1"}"#);
    let verdict = judge(&PolicyConfig::default(), &content, &[], None);
    assert_eq!(verdict.pending.unwrap().due_on, None);
}

#[test]
fn a_justification_must_say_something() {
    assert!(check_justification("justification", Some("   ")).is_err());
    assert!(check_justification("reason", None).is_err());
    assert!(check_justification("reason", Some(&"x".repeat(2_001))).is_err());
    assert_eq!(
        check_justification("reason", Some(" why not ")).unwrap(),
        "why not"
    );
}
