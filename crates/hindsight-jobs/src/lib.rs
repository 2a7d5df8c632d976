//! Hindsight's background work, run by every `hindsight serve` (unless `--no-jobs`) and by
//! `hindsight worker`.
//!
//! One [`Worker::tick`] does four things, each safe with any number of instances on one
//! database:
//!
//! 1. **Schedule**: for each recurring job (the daily reminder sweep, the bi-weekly agenda, the
//!    weekly digest) the latest slot is computed in the domain, and a job keyed by that slot is
//!    added unless it exists.
//! 2. **Run jobs**: claim a due job with a lease, plan its notifications from the store with the
//!    domain's rules ([`plan`]), and store them with the job's completion in one transaction.
//!    Each notification's dedupe key exists once, so a job that runs twice tells nobody twice.
//!    A failing job is retried with backoff, then given up on.
//! 3. **Route** new notifications into one delivery per target ([`route`]).
//! 4. **Deliver**: claim due deliveries with a lease and send them ([`send`]), keeping every
//!    attempt: retried with exponential backoff and jitter, `Retry-After` honoured on 429, the
//!    channel disabled on 410, dead after `max_attempts`.
//!
//! Time comes from the [`Clock`], so tests drive it.

pub mod plan;
pub mod route;
pub mod send;
pub mod settings;

use std::sync::Arc;

use hindsight_domain::Clock;
use hindsight_domain::notify::{AttemptOutcome, backoff_seconds};
use hindsight_store::{Attempt, NewJob, Store, StoreError};
use jiff::{SignedDuration, Timestamp};

pub use settings::{Channel, ChannelKind, JobSettings, SmtpSettings, SmtpTls};

/// The kinds of recurring job.
pub const REMINDERS: &str = "reminders";
pub const AGENDA: &str = "agenda";
pub const DIGEST: &str = "digest";

/// Attempts of a failing job before it is given up on.
const JOB_ATTEMPTS: u32 = 5;

/// What one tick did, for tests and logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    pub jobs_run: usize,
    pub notifications: usize,
    pub routed: usize,
    pub attempts: usize,
    pub delivered: usize,
}

/// One instance's worker.
#[derive(Clone)]
pub struct Worker {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    settings: Arc<JobSettings>,
    sender: send::Sender,
    /// Set on shutdown: the tick in progress finishes the batch it is sending (so every send
    /// made is recorded) and claims nothing more.
    stopping: Arc<std::sync::atomic::AtomicBool>,
}

impl Worker {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        settings: JobSettings,
        outbound: hindsight_outbound::OutboundClient,
    ) -> Result<Self, send::SendError> {
        let settings = Arc::new(settings);
        let sender = send::Sender::new(Arc::clone(&settings), outbound)?;
        Ok(Self {
            store,
            clock,
            settings,
            sender,
            stopping: Arc::default(),
        })
    }

    pub fn settings(&self) -> &JobSettings {
        &self.settings
    }

    /// Runs until `shutdown` resolves, ticking every poll interval. A failing tick is logged
    /// and the next one tries again.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) {
        tracing::info!(worker = %self.settings.worker_id, "background jobs started");
        let stopped = Arc::new(tokio::sync::Notify::new());
        let stopping = Arc::clone(&self.stopping);
        let notify = Arc::clone(&stopped);
        tokio::spawn(async move {
            shutdown.await;
            stopping.store(true, std::sync::atomic::Ordering::SeqCst);
            notify.notify_one();
        });
        // A failing tick is logged when it starts failing, then once a minute with a count, and
        // once more when ticks succeed again: a full disk must not fill the log too.
        let mut failing: Option<(std::time::Instant, u64)> = None;
        while !self.is_stopping() {
            match self.tick().await {
                Ok(report) => {
                    if let Some((_, failures)) = failing.take() {
                        tracing::info!(failures, "jobs ticks succeed again");
                    }
                    if report != TickReport::default() {
                        tracing::debug!(?report, "jobs tick");
                    }
                }
                Err(error) => match &mut failing {
                    Some((last, count)) if last.elapsed() < std::time::Duration::from_secs(60) => {
                        *count += 1
                    }
                    Some((last, count)) => {
                        tracing::warn!(%error, failures_since_last = *count, "jobs ticks still fail; retrying");
                        *last = std::time::Instant::now();
                        *count = 0;
                    }
                    None => {
                        tracing::warn!(%error, "a jobs tick failed; retrying");
                        failing = Some((std::time::Instant::now(), 0));
                    }
                },
            }
            tokio::select! {
                () = stopped.notified() => break,
                () = tokio::time::sleep(self.settings.poll) => {}
            }
        }
        tracing::info!(worker = %self.settings.worker_id, "background jobs stopped");
    }

    /// One round of scheduling, jobs, routing and delivery, until nothing more is due now.
    pub async fn tick(&self) -> Result<TickReport, StoreError> {
        let mut report = TickReport::default();
        self.schedule().await?;
        while !self.is_stopping()
            && let Some(job) = self
                .store
                .claim_job(&self.settings.worker_id, self.now(), self.settings.lease)
                .await?
        {
            report.jobs_run += 1;
            match plan::run(&*self.store, &self.settings, &job, self.now()).await {
                Ok(planned) => {
                    report.notifications +=
                        self.store.complete_job(job.id, self.now(), planned).await?;
                }
                Err(error) => {
                    let attempt = job.attempts + 1;
                    let retry_at = (attempt < JOB_ATTEMPTS)
                        .then(|| self.later(backoff_seconds(attempt, 30, send::jitter())));
                    tracing::warn!(job = %job.dedupe_key, attempt, %error, "a job failed");
                    self.store
                        .fail_job(job.id, error.to_string(), retry_at)
                        .await?;
                }
            }
        }
        loop {
            let routed = self
                .store
                .route_notifications(self.now(), 200, route::router(&self.settings))
                .await?;
            report.routed += routed;
            if routed == 0 {
                break;
            }
        }
        while !self.is_stopping() {
            let tasks = self
                .store
                .claim_deliveries(
                    &self.settings.worker_id,
                    self.now(),
                    self.settings.lease,
                    self.settings.batch,
                )
                .await?;
            if tasks.is_empty() {
                break;
            }
            let sends = tasks.into_iter().map(|task| {
                let worker = self.clone();
                tokio::spawn(async move {
                    let result = worker.sender.deliver(&task).await;
                    let attempt = worker.attempt(&task, result);
                    let delivered = attempt.outcome == AttemptOutcome::Delivered;
                    worker.store.record_attempt(task.id, attempt).await?;
                    Ok::<bool, StoreError>(delivered)
                })
            });
            let sends: Vec<_> = sends.collect();
            for send in sends {
                report.attempts += 1;
                if send.await.map_err(StoreError::backend)?? {
                    report.delivered += 1;
                }
            }
        }
        Ok(report)
    }

    fn is_stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn later(&self, seconds: u64) -> Timestamp {
        self.now()
            .checked_add(SignedDuration::from_secs(seconds as i64))
            .unwrap_or(self.now())
    }

    /// Adds the current slot of each recurring job. The reminder sweep runs at its time of day
    /// and then every hour until the next day's, so that an item that falls due, or is created
    /// overdue, later in the day is not left for tomorrow (its dedupe keys tell nobody twice).
    /// An agenda or digest slot is caught up within six hours (an instance restarted during a
    /// deploy still sends it), not later: yesterday's digest on a fresh install is noise.
    async fn schedule(&self) -> Result<(), StoreError> {
        let now = self.now();
        let daily = self.settings.reminder_time.latest_slot(now);
        let hours = now.duration_since(daily.timestamp()).as_hours();
        let mut due = vec![NewJob {
            kind: REMINDERS.into(),
            dedupe_key: format!("{REMINDERS}:{}:{hours:02}", daily.date()),
            run_at: daily
                .timestamp()
                .checked_add(SignedDuration::from_hours(hours))
                .unwrap_or(now),
        }];
        for (kind, recurrence) in [
            (AGENDA, &self.settings.agenda),
            (DIGEST, &self.settings.digest),
        ] {
            let Some(recurrence) = recurrence else {
                continue;
            };
            let slot = recurrence.latest_slot(now);
            if now.duration_since(slot.timestamp()) <= SignedDuration::from_hours(6) {
                due.push(NewJob {
                    kind: kind.into(),
                    dedupe_key: format!("{kind}:{}", slot.date()),
                    run_at: slot.timestamp(),
                });
            }
        }
        for job in due {
            self.store.schedule_job(job, now).await?;
        }
        Ok(())
    }

    /// The attempt a send came to: delivered; or due again after a backoff (or when the receiver
    /// asked, on 429); or the channel disabled (410); or dead when out of attempts.
    fn attempt(&self, task: &hindsight_store::DeliveryTask, result: send::SendResult) -> Attempt {
        let now = self.now();
        let number = task.attempts + 1;
        let backoff = backoff_seconds(number, self.settings.backoff_base_seconds, send::jitter());
        let (outcome, retry_at) = match &result.failure {
            None => (AttemptOutcome::Delivered, None),
            Some(send::Failure::Gone) => (AttemptOutcome::Disabled, None),
            Some(_) if number >= self.settings.max_attempts => (AttemptOutcome::Dead, None),
            Some(send::Failure::RateLimited { retry_after }) => {
                let wait = retry_after.unwrap_or(backoff).min(86_400);
                (AttemptOutcome::RateLimited, Some(self.later(wait)))
            }
            Some(send::Failure::Permanent(_)) => (AttemptOutcome::Dead, None),
            Some(send::Failure::Transient(_)) => (AttemptOutcome::Retry, Some(self.later(backoff))),
        };
        Attempt {
            worker: self.settings.worker_id.clone(),
            at: now,
            outcome,
            retry_at,
            http_status: result.http_status,
            error: result.failure.map(|failure| failure.to_string()),
        }
    }
}
