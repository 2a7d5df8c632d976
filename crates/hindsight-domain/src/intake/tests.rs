use super::*;

fn body_of(capture: &str) -> &[u8] {
    let (_, body) = capture.split_once("\n\n").unwrap();
    body.trim_end().as_bytes()
}

const FIRING: &str =
    include_str!("../../../../fixtures/alertmanager/alertmanager-0.25-firing.http");
const RESOLVED: &str =
    include_str!("../../../../fixtures/alertmanager/alertmanager-0.25-resolved.http");
const TRUNCATED: &str =
    include_str!("../../../../fixtures/alertmanager/alertmanager-0.25-bearer-truncated.http");

fn received() -> Timestamp {
    "2026-11-21T04:30:00Z".parse().unwrap()
}

fn alert(reading: Reading) -> AlertReading {
    match reading {
        Reading::Alert(alert) => *alert,
        Reading::Ignored(why) => panic!("ignored: {why}"),
    }
}

#[test]
fn alertmanagers_firing_notification_opens_a_monitoring_detected_incident() {
    let reading = alert(
        read_alertmanager(
            "alertmanager",
            body_of(FIRING),
            &IntakeMapping::default(),
            received(),
        )
        .unwrap(),
    );
    assert_eq!(
        reading.links,
        [
            "group:{}:{alertname=\"HighErrorRate\", service=\"checkout\"}",
            "fp:7d2d332feada5c59"
        ]
    );
    let open = reading.open;
    assert_eq!(
        open.title.as_deref(),
        Some("HighErrorRate: 5xx ratio above 5%")
    );
    assert_eq!(open.severity.as_deref(), Some("SEV1"));
    assert_eq!(open.services, ["checkout"]);
    assert_eq!(open.detection.as_deref(), Some("monitoring"));
    assert_eq!(
        open.started_at.as_deref(),
        Some("2026-11-21T04:21:14.853319Z")
    );
    assert_eq!(open.resolved_at, None, "Go's zero end time means not ended");
    assert_eq!(reading.events.len(), 1);
    let firing = &reading.events[0];
    assert_eq!(firing.content.kind, EventKind::Alerted);
    assert_eq!(
        firing.content.text,
        "**HighErrorRate** firing: 5xx ratio above 5% (service=checkout, severity=critical)"
    );
    assert_eq!(
        firing.content.link.as_deref(),
        Some("http://prometheus.local/graph?g0.expr=x")
    );
}

#[test]
fn the_resolved_notification_repeats_the_firing_event_id_and_adds_the_resolution() {
    let mapping = IntakeMapping::default();
    let firing =
        alert(read_alertmanager("alertmanager", body_of(FIRING), &mapping, received()).unwrap());
    let resolved =
        alert(read_alertmanager("alertmanager", body_of(RESOLVED), &mapping, received()).unwrap());
    assert_eq!(resolved.events[0].external_id, firing.events[0].external_id);
    let kinds: Vec<_> = resolved.events.iter().map(|e| e.content.kind).collect();
    assert_eq!(
        kinds,
        [EventKind::Alerted, EventKind::Note, EventKind::Resolved]
    );
    assert_eq!(
        resolved.events[2].content.occurred_at.to_string(),
        "2026-11-21T04:21:17Z"
    );
    assert_eq!(resolved.open.status.as_deref(), Some("resolved"));
}

#[test]
fn a_truncated_notification_with_a_warning_maps_to_sev3_without_a_service() {
    let reading = alert(
        read_alertmanager(
            "alertmanager",
            body_of(TRUNCATED),
            &IntakeMapping::default(),
            received(),
        )
        .unwrap(),
    );
    assert_eq!(reading.open.severity.as_deref(), Some("SEV3"));
    assert!(reading.open.services.is_empty());
    assert_eq!(reading.open.title.as_deref(), Some("DiskFull firing"));
}

#[test]
fn a_configured_mapping_decides_severity_and_services() {
    let mut mapping = IntakeMapping::default();
    mapping.severities.insert("warning".into(), Severity::Sev2);
    mapping.service_labels = vec!["instance".into()];
    let reading =
        alert(read_alertmanager("alertmanager", body_of(TRUNCATED), &mapping, received()).unwrap());
    assert_eq!(reading.open.severity.as_deref(), Some("SEV2"));
    assert_eq!(reading.open.services, ["db1"]);
}

#[test]
fn bodies_that_are_not_the_senders_shape_are_refused_with_the_reason() {
    let mapping = IntakeMapping::default();
    let error =
        read_alertmanager("alertmanager", b"{\"alerts\": 3}", &mapping, received()).unwrap_err();
    assert!(
        error.0.starts_with("not a valid alertmanager payload"),
        "{error}"
    );
    assert!(read_pagerduty(b"[]", &mapping, received()).is_err());
    assert!(
        read_opsgenie(
            b"{\"action\":\"Create\",\"alert\":{\"alertId\":\"\"}}",
            &mapping,
            received()
        )
        .is_err()
    );
    let empty = read_alertmanager(
        "alertmanager",
        b"{\"alerts\": [], \"extra\": 1}",
        &mapping,
        received(),
    )
    .unwrap();
    assert!(matches!(empty, Reading::Ignored(_)));
}

const PAGERDUTY_TRIGGERED: &str = r#"{"event":{"id":"01DEN4HPBQAJ7RP0VHXX2JQGYK","event_type":"incident.triggered","resource_type":"incident","occurred_at":"2026-11-20T18:45:22.169Z","agent":{"html_url":"https://acme.pagerduty.com/users/PLH1HKV","id":"PLH1HKV","self":"https://api.pagerduty.com/users/PLH1HKV","summary":"Tenex Engineer","type":"user_reference"},"client":{"name":"PagerDuty"},"data":{"id":"PGR0VU2","type":"incident","self":"https://api.pagerduty.com/incidents/PGR0VU2","html_url":"https://acme.pagerduty.com/incidents/PGR0VU2","number":2,"status":"triggered","incident_key":"d3640fbd41094207a1c11e58e46b1662","created_at":"2026-11-20T18:45:02Z","title":"A little bump in the road","service":{"html_url":"https://acme.pagerduty.com/services/PF9KMXH","id":"PF9KMXH","self":"https://api.pagerduty.com/services/PF9KMXH","summary":"API Service","type":"service_reference"},"assignees":[],"escalation_policy":{"id":"PX"},"teams":[],"priority":{"summary":"P1"},"urgency":"high","conference_bridge":null,"resolve_reason":null}}}"#;

#[test]
fn pagerduty_v3_incident_events_open_and_update_by_incident_id() {
    let mapping = IntakeMapping::default();
    let reading =
        alert(read_pagerduty(PAGERDUTY_TRIGGERED.as_bytes(), &mapping, received()).unwrap());
    assert_eq!(reading.links, ["incident:PGR0VU2"]);
    assert_eq!(
        reading.open.title.as_deref(),
        Some("A little bump in the road")
    );
    assert_eq!(reading.open.severity.as_deref(), Some("SEV1"));
    assert_eq!(reading.open.services, ["API Service"]);
    assert_eq!(
        reading.open.started_at.as_deref(),
        Some("2026-11-20T18:45:02Z")
    );
    let event = &reading.events[0];
    assert_eq!(event.content.kind, EventKind::Alerted);
    assert_eq!(event.author.as_deref(), Some("Tenex Engineer"));
    assert_eq!(
        event.external_id.as_deref(),
        Some("pagerduty:01DEN4HPBQAJ7RP0VHXX2JQGYK")
    );

    let acknowledged = PAGERDUTY_TRIGGERED
        .replace("incident.triggered", "incident.acknowledged")
        .replace("01DEN4HPBQAJ7RP0VHXX2JQGYK", "01DEN4HPBQAJ7RP0VHXX2JQGYL");
    let reading = alert(read_pagerduty(acknowledged.as_bytes(), &mapping, received()).unwrap());
    assert_eq!(reading.events[0].content.kind, EventKind::Acknowledged);

    let unknown = PAGERDUTY_TRIGGERED.replace("incident.triggered", "service.updated");
    assert!(matches!(
        read_pagerduty(unknown.as_bytes(), &mapping, received()).unwrap(),
        Reading::Ignored(_)
    ));
}

#[test]
fn opsgenie_actions_become_events_found_by_alert_id_or_alias() {
    let body = r#"{"action":"Close","alert":{"alertId":"70413a06-38d6-4c85-92b8-5ebc900d42e2","message":"CPU high on db1","tags":["service:db"],"tinyId":"1791","alias":"db1-cpu","createdAt":1795234567000,"updatedAt":1795238167000123000,"username":"grace@example.com","priority":"P2"},"source":{"name":"","type":"web"},"integrationName":"Webhook","integrationType":"Webhook","unknown":{"deep":[1,2]}}"#;
    let reading =
        alert(read_opsgenie(body.as_bytes(), &IntakeMapping::default(), received()).unwrap());
    assert_eq!(
        reading.links,
        ["id:70413a06-38d6-4c85-92b8-5ebc900d42e2", "alias:db1-cpu"]
    );
    assert_eq!(reading.open.severity.as_deref(), Some("SEV2"));
    assert_eq!(reading.open.services, ["db"]);
    let event = &reading.events[0];
    assert_eq!(event.content.kind, EventKind::Resolved);
    // updatedAt in nanoseconds, createdAt in milliseconds: both read right.
    assert_eq!(
        event.content.occurred_at.to_string(),
        "2026-11-21T05:16:07.000123Z"
    );
    assert_eq!(
        reading.open.started_at.as_deref(),
        Some("2026-11-21T04:16:07Z")
    );
    let ignored = body.replace("\"Close\"", "\"Snooze\"");
    assert!(matches!(
        read_opsgenie(ignored.as_bytes(), &IntakeMapping::default(), received()).unwrap(),
        Reading::Ignored(_)
    ));
}
