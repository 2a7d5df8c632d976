//! Which targets a notification goes to. People are emailed (when SMTP is configured); a
//! team's channels get what is addressed to the team; global channels get broadcasts. A private
//! notification goes to its people only: channels are read by people who may not be members.

use hindsight_store::{Notification, RouteFn};

use crate::settings::JobSettings;

/// The targets of one notification, each once.
pub fn targets(settings: &JobSettings, notification: &Notification) -> Vec<String> {
    let mut targets = Vec::new();
    if settings.smtp.is_some() {
        for person in &notification.audience.people {
            targets.push(format!("email:{}", person.email));
        }
    }
    if !notification.private {
        for channel in &settings.channels {
            let addressed = match &channel.team {
                Some(team) => notification.audience.teams.contains(team),
                None => notification.audience.broadcast,
            };
            if addressed && channel.wants(notification.kind) {
                targets.push(format!("channel:{}", channel.name));
            }
        }
    }
    targets.dedup();
    targets
}

pub fn router(settings: &std::sync::Arc<JobSettings>) -> RouteFn {
    let settings = std::sync::Arc::clone(settings);
    Box::new(move |notification| targets(&settings, notification))
}
