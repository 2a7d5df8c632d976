//! Example incidents and a postmortem for `hindsight serve --demo`, modelled on the incidents the seed documents
//! tell of, so that a newcomer meets a page worth reading rather than an empty one.

use anyhow::Context;
use hindsight_domain::access::UserDraft;
use hindsight_domain::document::{Author, PostmortemDocument, ValidDocument};
use hindsight_domain::postmortem::{
    DEFAULT_FACTOR_CATEGORIES, PostmortemStatus, Why, WhyChain, builtin_templates,
};
use hindsight_domain::{ImpactDraft, IncidentDraft};
use hindsight_store::{NewPostmortem, Store};
use jiff::{SignedDuration, Timestamp};

/// Loads the examples into an empty database; returns how many were loaded (none when the
/// database already holds incidents, so that real data is never mixed with examples).
pub async fn load(
    store: &dyn Store,
    policy: &hindsight_domain::policy::PolicyConfig,
    now: Timestamp,
) -> anyhow::Result<usize> {
    if store.count_incidents().await? > 0 {
        return Ok(0);
    }
    let examples = examples(now);
    let count = examples.len();
    let mut first = None;
    for draft in examples {
        let title = draft.title.clone().unwrap_or_default();
        let incident = draft
            .validate(now)
            .map_err(|errors| anyhow::anyhow!("demo incident {title:?} is invalid: {errors}"))?;
        let stored = store
            .create_incident(incident, Some("demo".into()), now)
            .await
            .context("cannot store a demo incident")?;
        store
            .judge_incident(stored.id, now, hindsight_http::policy::judgement(policy))
            .await
            .context("cannot run the policy on a demo incident")?;
        first.get_or_insert(stored.id);
    }
    if let Some(incident) = first {
        let incident = store
            .get_incident(incident, hindsight_domain::access::Visibility::Everything)
            .await?
            .context("the first demo incident is gone")?;
        let events = store
            .list_events(
                incident.id,
                hindsight_domain::access::Visibility::Everything,
            )
            .await?
            .unwrap_or_default();
        store
            .create_postmortem(
                NewPostmortem {
                    id: None,
                    status: PostmortemStatus::Draft,
                    document: example_postmortem(&incident, &events)?,
                },
                Author {
                    user_id: None,
                    name: "Hindsight demo".into(),
                },
                now,
            )
            .await
            .context("cannot store the demo postmortem")?;
    }
    Ok(count)
}

/// A postmortem half written, as one is the morning after: drafted from its incident (summary,
/// impact, the generated timeline), one why chain, and a sentence the lint flags.
fn example_postmortem(
    incident: &hindsight_domain::Incident,
    events: &[hindsight_domain::timeline::TimelineEvent],
) -> anyhow::Result<ValidDocument> {
    use hindsight_domain::draft;
    let template = builtin_templates().remove(0);
    let categories: Vec<String> = DEFAULT_FACTOR_CATEGORIES
        .iter()
        .map(|category| (*category).to_owned())
        .collect();
    let mut sections = draft::sections(
        &template,
        &[draft::Source { incident, events }],
        &draft::Zone::utc(),
    );
    if let Some(summary) = sections.get_mut("summary") {
        summary.push_str("\n\nThe on-call engineer forgot to check the product identifiers.");
    }
    let document = PostmortemDocument {
        title: format!("Postmortem: {}", incident.content.title),
        incidents: vec![incident.id],
        template: "default".into(),
        sections,
        why_chains: vec![WhyChain {
            problem: "Users could not buy subscriptions in the iOS app".into(),
            whys: vec![
                Why {
                    question: "Why did purchases fail?".into(),
                    answer: "The app asked the App Store for a product identifier that does \
                             not exist."
                        .into(),
                },
                Why {
                    question: "Why did nobody notice for almost two hours?".into(),
                    answer: "No alert watches the purchase ratio; a person had to see it.".into(),
                },
            ],
            root_cause: Some(
                "Product identifiers are typed by hand and nothing checks them before a \
                 release."
                    .into(),
            ),
        }],
        ..PostmortemDocument::default()
    };
    document
        .validate(&template, &categories)
        .map_err(|errors| anyhow::anyhow!("the demo postmortem is invalid: {errors}"))
}

/// Creates an admin to sign in with when there are no users; gives back the email and the
/// random password (there is no default password, ever).
pub async fn create_admin(store: &dyn Store) -> anyhow::Result<Option<(String, String)>> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let email = "demo@example.com".to_owned();
    let password: String = hindsight_http::credentials::new_secret("")
        .chars()
        .take(20)
        .collect();
    let draft = UserDraft {
        email: Some(email.clone()),
        display_name: Some("Demo Admin".into()),
        role: Some("admin".into()),
        password: Some(password.clone()),
    };
    hindsight_http::accounts::create_user(store, draft, Timestamp::now())
        .await
        .map_err(|error| anyhow::anyhow!("cannot create the demo admin: {error}"))?;
    Ok(Some((email, password)))
}

/// A time `days` days and `minutes` minutes before `now`, as RFC 3339.
fn ago(now: Timestamp, days: i64, minutes: i64) -> Option<String> {
    let offset = SignedDuration::from_mins(days * 24 * 60 + minutes);
    Some(
        now.checked_sub(offset)
            .expect("recent times exist")
            .to_string(),
    )
}

fn examples(now: Timestamp) -> Vec<IncidentDraft> {
    vec![
        IncidentDraft {
            title: Some("iOS subscription purchases fail".into()),
            summary: Some(
                "Users could not buy subscriptions in the iOS app. A typo in a product \
                 identifier shipped at 12:20; nothing alerted, and the CEO heard of it from a \
                 friend at 14:10. The typo was fixed at 15:17 and full recovery confirmed at \
                 15:25."
                    .into(),
            ),
            severity: Some("SEV2".into()),
            status: Some("resolved".into()),
            services: vec!["ios-app".into(), "billing".into()],
            started_at: ago(now, 2, 0),
            detected_at: ago(now, 2, -110),
            acknowledged_at: ago(now, 2, -135),
            mitigated_at: ago(now, 2, -177),
            resolved_at: ago(now, 2, -185),
            detection: Some("human".into()),
            cause_origin: Some("internal".into()),
            impact: ImpactDraft {
                user_visible_minutes: Some(185),
                business: [
                    ("purchase_ratio_drop_percent".to_owned(), 100.0),
                    ("distinct_customers_affected".to_owned(), 1840.0),
                ]
                .into(),
                ..ImpactDraft::default()
            },
            owner: Some("Anastasia".into()),
            tags: vec!["payments".into(), "monitoring-gap".into()],
            ..IncidentDraft::default()
        },
        IncidentDraft {
            title: Some(
                "290k backend requests time out after an environment variable is wiped".into(),
            ),
            summary: Some(
                "A deploy replaced the environment and dropped one variable; the API fell back \
                 to a default timeout and 290,000 requests timed out before a rollback."
                    .into(),
            ),
            severity: Some("SEV1".into()),
            status: Some("closed".into()),
            services: vec!["api".into(), "deploys".into()],
            started_at: ago(now, 9, 0),
            detected_at: ago(now, 9, -6),
            acknowledged_at: ago(now, 9, -9),
            mitigated_at: ago(now, 9, -31),
            resolved_at: ago(now, 9, -48),
            detection: Some("monitoring".into()),
            cause_origin: Some("internal".into()),
            impact: ImpactDraft {
                user_visible_minutes: Some(31),
                requests_failed: Some(290_000),
                ..ImpactDraft::default()
            },
            owner: Some("on-call: platform".into()),
            tags: vec!["rollback".into()],
            ..IncidentDraft::default()
        },
        IncidentDraft {
            title: Some("Bank account connections fail for new users".into()),
            summary: Some(
                "Connecting a bank account failed after an aggregator API change, which cut \
                 subscriptions while it lasted."
                    .into(),
            ),
            severity: Some("SEV2".into()),
            status: Some("mitigated".into()),
            services: vec!["bank-connections".into()],
            started_at: ago(now, 0, 300),
            detected_at: ago(now, 0, 240),
            acknowledged_at: ago(now, 0, 230),
            mitigated_at: ago(now, 0, 60),
            detection: Some("monitoring".into()),
            cause_origin: Some("external".into()),
            impact: ImpactDraft {
                users_affected: Some(5200),
                business: [("plus_signups_drop_percent".to_owned(), 18.0)].into(),
                ..ImpactDraft::default()
            },
            owner: Some("Sam".into()),
            ..IncidentDraft::default()
        },
        IncidentDraft {
            title: Some(
                "Ten-minute outage while a long-running migration waited for a lock".into(),
            ),
            summary: Some(
                "A schema migration queued behind long-running queries and blocked writes to \
                 one of the busiest tables for ten minutes."
                    .into(),
            ),
            severity: Some("SEV1".into()),
            status: Some("resolved".into()),
            services: vec!["api".into(), "database".into()],
            started_at: ago(now, 21, 0),
            detected_at: ago(now, 21, -2),
            acknowledged_at: ago(now, 21, -3),
            mitigated_at: ago(now, 21, -10),
            resolved_at: ago(now, 21, -12),
            detection: Some("monitoring".into()),
            cause_origin: Some("internal".into()),
            impact: ImpactDraft {
                user_visible_minutes: Some(10),
                ..ImpactDraft::default()
            },
            owner: Some("Priya".into()),
            tags: vec!["migrations".into()],
            ..IncidentDraft::default()
        },
        IncidentDraft {
            title: Some("Hosting provider outage takes the status page down".into()),
            summary: Some("The provider's region was down; we waited it out.".into()),
            severity: Some("SEV3".into()),
            status: Some("closed".into()),
            services: vec!["status-page".into()],
            started_at: ago(now, 30, 0),
            detected_at: ago(now, 30, -4),
            resolved_at: ago(now, 30, -95),
            detection: Some("monitoring".into()),
            cause_origin: Some("external".into()),
            impact: ImpactDraft {
                user_visible_minutes: Some(95),
                ..ImpactDraft::default()
            },
            ..IncidentDraft::default()
        },
        IncidentDraft {
            title: Some("App crashes when choosing a repayment date".into()),
            summary: Some(
                "The cash-advance flow crashed on one date picker; conversion for the feature \
                 dropped until a fix shipped."
                    .into(),
            ),
            severity: Some("SEV3".into()),
            status: Some("open".into()),
            services: vec!["mobile-app".into(), "cash-advance".into()],
            started_at: ago(now, 0, 90),
            detected_at: ago(now, 0, 45),
            detection: Some("human".into()),
            owner: Some("Lee".into()),
            ..IncidentDraft::default()
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_postmortem_is_valid() {
        let now: Timestamp = "2026-11-21T12:00:00Z".parse().unwrap();
        let content = examples(now)
            .remove(0)
            .validate(now)
            .unwrap()
            .into_content();
        let incident = hindsight_domain::Incident {
            id: hindsight_domain::IncidentId::new(1).unwrap(),
            content,
            created_at: now,
            updated_at: now,
        };
        let document = example_postmortem(&incident, &[]).unwrap();
        assert!(document.get().sections["summary"].contains("forgot"));
    }

    #[test]
    fn every_example_is_valid() {
        let now = Timestamp::now();
        for draft in examples(now) {
            let title = draft.title.clone();
            assert!(draft.validate(now).is_ok(), "{title:?}");
        }
    }
}
