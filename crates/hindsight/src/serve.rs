//! `hindsight serve` and `hindsight migrate`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::Context;
use hindsight_http::metrics::Metrics;
use hindsight_http::signin::Throttle;
use hindsight_http::{AppParts, AppState, Limits, SystemClock};
use hindsight_outbound::{OutboundClient, OutboundPolicy};
use hindsight_store::{Outage, Store, StoreError, redact_url};
use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, Settings};

pub fn init_logging(format: LogFormat) {
    let filter =
        EnvFilter::try_from_env("HINDSIGHT_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// Opens the database the settings name and brings its schema up to date. A PostgreSQL server
/// that cannot be reached yet (it may be starting beside Hindsight) is tried again with a
/// growing pause for `database_wait`, each wait logged with its cause.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    let shown = redact_url(&settings.database_url);
    let is_postgres = hindsight_store::sqlite_path(&settings.database_url).is_none();
    let started = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(500);
    let store = loop {
        match hindsight_store::open(&settings.database_url).await {
            Ok(store) => break store,
            Err(StoreError::Unavailable(Outage::Unreachable | Outage::Busy, detail))
                if is_postgres && started.elapsed() < settings.database_wait =>
            {
                let pause_now = pause.min(settings.database_wait.saturating_sub(started.elapsed()));
                tracing::warn!(
                    database = %shown,
                    cause = %detail,
                    "waiting for the database; trying again in {} ms",
                    pause_now.as_millis()
                );
                tokio::time::sleep(pause_now).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(5));
            }
            Err(error @ StoreError::Unavailable(Outage::Unreachable | Outage::Busy, _))
                if is_postgres =>
            {
                anyhow::bail!(
                    "cannot open the database {shown}: it could not be reached for {} s: {}",
                    settings.database_wait.as_secs(),
                    plain(&error)
                );
            }
            Err(error) => return Err(explain(settings, "open", error)),
        }
    };
    let report = store
        .migrate()
        .await
        .map_err(|error| explain(settings, "migrate", error))?;
    for (version, name) in &report.applied {
        tracing::info!(migration.version = version, migration.name = %name, "migration applied");
    }
    Ok(store)
}

/// A storage error as an operator reads it at start: the cause named once, and a full disk
/// called full even where SQLite only says "disk I/O error".
fn explain(settings: &Settings, doing: &str, error: StoreError) -> anyhow::Error {
    let shown = redact_url(&settings.database_url);
    if let StoreError::Unavailable(Outage::DiskFull | Outage::Io, _) = error
        && let Some(path) = hindsight_store::sqlite_path(&settings.database_url)
        && let Some(free) = hindsight_store::free_bytes_at(path)
        && free < 1024 * 1024
    {
        return anyhow::anyhow!(
            "cannot {doing} the database {shown}: the disk that holds it is full ({} KiB free); \
             free some space and start again",
            free / 1024
        );
    }
    anyhow::anyhow!("cannot {doing} the database {shown}: {}", plain(&error))
}

/// The error's words without the "database error:" prefix a backend error carries.
fn plain(error: &StoreError) -> String {
    match error {
        StoreError::Backend(inner) => inner.to_string(),
        other => other.to_string(),
    }
}

pub async fn migrate(settings: Settings) -> anyhow::Result<()> {
    init_logging(settings.log_format);
    let store = open_store(&settings).await?;
    let _ = store;
    println!(
        "The database {} is up to date.",
        redact_url(&settings.database_url)
    );
    Ok(())
}

pub async fn serve(settings: Settings, demo: bool, run_jobs: bool) -> anyhow::Result<()> {
    init_logging(settings.log_format);
    let store = open_store(&settings).await?;
    if demo {
        if let Some((email, password)) = crate::demo::create_admin(&*store).await? {
            println!("Demo admin: {email}, password {password} (shown once).");
        }
        let loaded = crate::demo::load(
            &*store,
            &settings.follow_through.policy,
            jiff::Timestamp::now(),
        )
        .await?;
        if loaded == 0 {
            println!("The database already holds incidents; --demo added none.");
        } else {
            println!("Loaded {loaded} example incidents.");
        }
    }
    if store.count_users().await? == 0 {
        println!(
            "No users yet. Create the first admin with:\n  hindsight user create --admin --email you@example.com{}",
            if settings.database_url == "hindsight.db" {
                String::new()
            } else {
                " --database-url …".to_owned()
            }
        );
    }
    let backend = store.backend();
    let outbound = outbound_client(&settings)?;
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let address = listener.local_addr()?;
    let mut settings = settings;
    settle_public_url(&mut settings, address);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = if run_jobs {
        Some(tokio::spawn(
            start_worker(Arc::clone(&store), &settings, outbound.clone())?.run(wait_for(stopped)),
        ))
    } else {
        None
    };
    let state = AppState::from_parts(AppParts {
        store,
        clock: Arc::new(SystemClock),
        metrics: Metrics::default(),
        limits: Limits {
            max_body_bytes: settings.max_body_bytes,
        },
        secure_cookies: settings.secure_cookies,
        login_throttle: Throttle::default(),
        outbound,
        postmortems: hindsight_http::postmortems::PostmortemSettings {
            factor_categories: settings.factor_categories.clone(),
            lint: settings.lint.clone(),
            max_image_bytes: settings.max_image_bytes,
        },
        timeline: settings.timeline.clone(),
        follow_through: settings.follow_through.clone(),
        meetings: settings.meetings.clone(),
    });
    println!(
        "Hindsight is serving at {} (database: {backend} {})",
        url_to_open(address),
        redact_url(&settings.database_url)
    );
    tracing::info!(listen = %address, database = backend, "serving");
    hindsight_http::serve(listener, state, settings.server, async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    })
    .await
    .context("the server stopped")?;
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    tracing::info!("stopped");
    Ok(())
}

fn outbound_client(settings: &Settings) -> anyhow::Result<OutboundClient> {
    OutboundClient::new(
        OutboundPolicy {
            allow: settings.outbound_allow.clone(),
        },
        std::time::Duration::from_secs(10),
    )
    .context("cannot build the outbound HTTP client")
}

/// The background worker, named after this host and process in claims and attempts.
fn start_worker(
    store: Arc<dyn Store>,
    settings: &Settings,
    outbound: OutboundClient,
) -> anyhow::Result<hindsight_jobs::Worker> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "hindsight".into());
    let mut jobs = settings.jobs.clone();
    jobs.worker_id = format!("{host}-{}", std::process::id());
    hindsight_jobs::Worker::new(store, Arc::new(SystemClock), jobs, outbound)
        .context("cannot start the background jobs")
}

async fn wait_for(mut stopped: tokio::sync::watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stopped| *stopped).await;
}

/// Without `public_url`, links in notifications and invites point to the address Hindsight
/// listens on, which works on this machine only; says so once at start.
fn settle_public_url(settings: &mut Settings, address: SocketAddr) {
    if settings.follow_through.public_url.is_some() {
        return;
    }
    let url = url_to_open(address).trim_end_matches('/').to_owned();
    tracing::warn!(
        "public_url is not set: links in notifications and invites point to {url}, which works \
         on this machine only; set public_url in the configuration file (`hindsight config \
         default` shows it)"
    );
    settings.jobs.public_url = url;
}

/// `hindsight worker`: background jobs only, until interrupted.
pub async fn worker(mut settings: Settings) -> anyhow::Result<()> {
    init_logging(settings.log_format);
    let listen = settings.listen;
    settle_public_url(&mut settings, listen);
    let store = open_store(&settings).await?;
    let worker = start_worker(store, &settings, outbound_client(&settings)?)?;
    println!(
        "Hindsight's background jobs are running (database: {}).",
        redact_url(&settings.database_url)
    );
    worker.run(shutdown_signal()).await;
    Ok(())
}

/// The URL a person can open: an unspecified address (0.0.0.0) is reachable on loopback.
fn url_to_open(address: SocketAddr) -> String {
    let ip = match address.ip() {
        ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}/", SocketAddr::new(ip, address.port()))
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("a SIGTERM handler installs");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DatabaseArgs;

    fn settings(config: Option<&str>) -> Settings {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("hindsight.toml");
        std::fs::write(&path, config.unwrap_or("")).unwrap();
        let args = DatabaseArgs {
            database_url: Some("unused.db".into()),
            config: Some(path),
            log_format: None,
        };
        Settings::load(&args, None).unwrap()
    }

    #[test]
    fn without_public_url_links_point_to_the_address_hindsight_listens_on() {
        let mut unset = settings(None);
        settle_public_url(&mut unset, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(unset.jobs.public_url, "http://127.0.0.1:9000");
        let mut set = settings(Some("public_url = \"https://hindsight.example.com/\"\n"));
        settle_public_url(&mut set, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(set.jobs.public_url, "https://hindsight.example.com");
    }
}
