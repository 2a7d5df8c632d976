//! Example incidents for `hindsight serve --demo`, modelled on the incidents the seed documents
//! tell of, so that a newcomer meets a page worth reading rather than an empty one.

use anyhow::Context;
use hindsight_domain::access::UserDraft;
use hindsight_domain::{ImpactDraft, IncidentDraft};
use hindsight_store::Store;
use jiff::{SignedDuration, Timestamp};

/// Loads the examples into an empty database; returns how many were loaded (none when the
/// database already holds incidents, so that real data is never mixed with examples).
pub async fn load(store: &dyn Store, now: Timestamp) -> anyhow::Result<usize> {
    if store.count_incidents().await? > 0 {
        return Ok(0);
    }
    let examples = examples(now);
    let count = examples.len();
    for draft in examples {
        let title = draft.title.clone().unwrap_or_default();
        let incident = draft
            .validate(now)
            .map_err(|errors| anyhow::anyhow!("demo incident {title:?} is invalid: {errors}"))?;
        store
            .create_incident(incident, now)
            .await
            .context("cannot store a demo incident")?;
    }
    Ok(count)
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
    fn every_example_is_valid() {
        let now = Timestamp::now();
        for draft in examples(now) {
            let title = draft.title.clone();
            assert!(draft.validate(now).is_ok(), "{title:?}");
        }
    }
}
