//! `hindsight export DIR` and `hindsight import DIR`: postmortems between the database and a
//! folder of Markdown files (one a postmortem), for teams that keep them in git.
//!
//! Import reads every `*.md` file of the folder, each in its own transaction: a file that names
//! a postmortem that exists updates it (a new version in its history, by `import`), unless it
//! is equal, then it is skipped; a file without an id, or with one the database does not have,
//! creates one. A bad file is refused with its reason and line, and the others go on.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Args;
use hindsight_domain::Clock;
use hindsight_domain::access::Visibility;
use hindsight_domain::document::Author;
use hindsight_domain::markdown_file::{self, IncidentBrief, PostmortemFile};
use hindsight_domain::postmortem::Template;
use hindsight_http::SystemClock;
use hindsight_http::postmortems::all_templates;
use hindsight_store::{NewPostmortem, PostmortemFilter, Store, StoreError};

use crate::config::{DatabaseArgs, Settings};
use crate::serve::{init_logging, open_store};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The folder to write `pm-<id>.md` files into, each postmortem's images in
    /// `pm-<id>-images/` beside its file; created when missing. Existing files of the same
    /// name are replaced.
    pub dir: PathBuf,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub source: Option<ImportSource>,
    /// A folder of postmortem Markdown files (`*.md`), as `hindsight export` writes them.
    #[arg(required = true)]
    pub dir: Option<PathBuf>,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum ImportSource {
    /// Import one channel of a Slack workspace export (the .zip Slack makes) into an
    /// incident's timeline as chat events. All or nothing: a malformed file is named and
    /// nothing is kept. Importing the same export again adds nothing.
    Slack(SlackArgs),
}

#[derive(Debug, Args)]
pub struct SlackArgs {
    /// The export: a .zip with users.json, channels.json and a folder per channel.
    pub export: PathBuf,
    /// The channel to import, as named in channels.json (with or without `#`).
    #[arg(long)]
    pub channel: String,
    /// The incident whose timeline gets the messages: `42` or `INC-42`.
    #[arg(long)]
    pub incident: String,
    /// Only messages at or after this time (RFC 3339, e.g. 2026-11-20T12:00:00Z).
    #[arg(long)]
    pub from: Option<String>,
    /// Only messages before this time (RFC 3339).
    #[arg(long)]
    pub to: Option<String>,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// `hindsight import slack`: true when the import was made.
pub async fn import_slack(args: SlackArgs) -> anyhow::Result<()> {
    let settings = Settings::load(&args.database, None)?;
    init_logging(settings.log_format);
    let incident: hindsight_domain::IncidentId = args.incident.parse().map_err(|()| {
        anyhow::anyhow!(
            "--incident {:?} is not an incident id like 42 or INC-42",
            args.incident
        )
    })?;
    let options = hindsight_http::timeline::slack::ImportOptions::parse(
        &args.channel,
        args.from.as_deref(),
        args.to.as_deref(),
        settings.timeline.slack_key_reactions.clone(),
    )
    .map_err(|errors| anyhow::anyhow!("{}", errors.summary()))?;
    let file = std::fs::File::open(&args.export)
        .with_context(|| format!("cannot open {}", args.export.display()))?;
    let store = open_store(&settings).await?;
    let shown = std::io::stderr().is_terminal();
    let progress: hindsight_http::timeline::slack::Progress = Box::new(move |done, total| {
        if shown && total >= 10 {
            let width = 40;
            let filled = (width * done / total.max(1)) as usize;
            let width = width as usize;
            eprint!(
                "\r[{}{}] {done}/{total} days",
                "=".repeat(filled),
                " ".repeat(width - filled)
            );
            let _ = std::io::stderr().flush();
            if done == total {
                eprintln!();
            }
        }
    });
    let channel = options.channel.clone();
    let (summary, outcome) = hindsight_http::timeline::slack::import(
        &store,
        incident,
        Visibility::Everything,
        SystemClock.now(),
        std::io::BufReader::new(file),
        options,
        Some(progress),
    )
    .await
    .map_err(|error| match error {
        hindsight_http::timeline::slack::ImportError::Store(StoreError::NotFound) => {
            anyhow::anyhow!("there is no incident {incident}")
        }
        other => anyhow::anyhow!("{}: nothing was imported: {other}", args.export.display()),
    })?;
    println!(
        "Imported #{channel} into INC-{incident}: {} messages added, {} already on the timeline, {} left out (joins, leaves, outside the window), from {} day files.",
        outcome.added, outcome.skipped, summary.left_out, summary.day_files
    );
    Ok(())
}

/// A progress bar on standard error, drawn only for a person at a terminal and a long run.
struct Progress {
    total: usize,
    done: usize,
    shown: bool,
}

impl Progress {
    fn new(total: usize) -> Self {
        Self {
            total,
            done: 0,
            shown: total >= 100 && std::io::stderr().is_terminal(),
        }
    }

    fn step(&mut self) {
        self.done += 1;
        if self.shown && (self.done.is_multiple_of(50) || self.done == self.total) {
            let width = 40;
            let filled = width * self.done / self.total.max(1);
            eprint!(
                "\r[{}{}] {}/{}",
                "=".repeat(filled),
                " ".repeat(width - filled),
                self.done,
                self.total
            );
            let _ = std::io::stderr().flush();
            if self.done == self.total {
                eprintln!();
            }
        }
    }
}

pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let settings = Settings::load(&args.database, None)?;
    init_logging(settings.log_format);
    let store = open_store(&settings).await?;
    let written = export_to(&*store, &args.dir).await?;
    println!("Exported {written} postmortems to {}.", args.dir.display());
    Ok(())
}

/// Writes every postmortem to `dir`; answers how many.
pub async fn export_to(store: &dyn Store, dir: &Path) -> anyhow::Result<usize> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the folder {}", dir.display()))?;
    let templates = all_templates(store).await?;
    let mut all = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .list_postmortems(
                &PostmortemFilter {
                    before,
                    limit: 1000,
                    ..PostmortemFilter::default()
                },
                Visibility::Everything,
            )
            .await?;
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        all.extend(page);
    }
    let mut progress = Progress::new(all.len());
    let mut incidents = std::collections::HashMap::new();
    for postmortem in &all {
        let Some(template) = templates
            .iter()
            .find(|template| template.key == postmortem.document.template)
        else {
            bail!(
                "PM-{} names the template `{}`, which is gone",
                postmortem.id,
                postmortem.document.template
            );
        };
        let mut briefs = Vec::new();
        for id in &postmortem.document.incidents {
            if !incidents.contains_key(id) {
                let incident = store.get_incident(*id, Visibility::Everything).await?;
                incidents.insert(*id, incident.as_ref().map(IncidentBrief::of));
            }
            if let Some(Some(brief)) = incidents.get(id) {
                briefs.push(brief.clone());
            }
        }
        let mut text = markdown_file::render(&PostmortemFile::of(postmortem), template, &briefs);
        let images = store
            .list_images(postmortem.id, Visibility::Everything)
            .await?;
        if !images.is_empty() {
            // The images go beside the file, and the file points at them there.
            let folder_name = format!("pm-{}-images", postmortem.id);
            let folder = dir.join(&folder_name);
            std::fs::create_dir_all(&folder)
                .with_context(|| format!("cannot create the folder {}", folder.display()))?;
            for image in images {
                let Some(found) = store
                    .get_image(postmortem.id, image.id, Visibility::Everything)
                    .await?
                else {
                    continue;
                };
                let file_name = format!("{}-{}", image.id, image.name);
                let path = folder.join(&file_name);
                std::fs::write(&path, &found.bytes)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                text = text.replace(
                    &format!("]({})", image.path()),
                    &format!("]({folder_name}/{file_name})"),
                );
            }
        }
        let path = dir.join(format!("pm-{}.md", postmortem.id));
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        progress.step();
    }
    Ok(all.len())
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub skipped: Vec<String>,
    /// Each refused file with why.
    pub refused: Vec<String>,
}

pub async fn import(args: ImportArgs) -> anyhow::Result<bool> {
    if let Some(ImportSource::Slack(slack)) = args.source {
        return import_slack(slack).await.map(|()| true);
    }
    let dir = args
        .dir
        .expect("clap requires a folder without a subcommand");
    let settings = Settings::load(&args.database, None)?;
    init_logging(settings.log_format);
    let store = open_store(&settings).await?;
    let report = import_from(store, &dir, &settings.factor_categories).await?;
    println!(
        "Imported from {}: {} created, {} updated, {} skipped (unchanged), {} refused.",
        dir.display(),
        report.created.len(),
        report.updated.len(),
        report.skipped.len(),
        report.refused.len()
    );
    for refused in &report.refused {
        println!("refused {refused}");
    }
    Ok(report.refused.is_empty())
}

fn markdown_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the folder {}", dir.display()))?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot read the folder {}", dir.display()))?;
    files.retain(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "md"));
    files.sort();
    Ok(files)
}

pub async fn import_from(
    store: Arc<dyn Store>,
    dir: &Path,
    factor_categories: &[String],
) -> anyhow::Result<ImportReport> {
    let files = markdown_files(dir)?;
    let templates = all_templates(&*store).await?;
    let mut report = ImportReport::default();
    let mut progress = Progress::new(files.len());
    let author = Author {
        user_id: None,
        name: "import".into(),
    };
    for path in files {
        let name = path.display().to_string();
        match import_file(&*store, &path, &templates, factor_categories, &author).await {
            Ok(Outcome::Created(id)) => report.created.push(format!("{name} as PM-{id}")),
            Ok(Outcome::Updated(id)) => report.updated.push(format!("{name} into PM-{id}")),
            Ok(Outcome::Skipped) => report.skipped.push(name),
            Err(reason) => report.refused.push(format!("{name}: {reason}")),
        }
        progress.step();
    }
    Ok(report)
}

enum Outcome {
    Created(hindsight_domain::document::PostmortemId),
    Updated(hindsight_domain::document::PostmortemId),
    Skipped,
}

async fn import_file(
    store: &dyn Store,
    path: &Path,
    templates: &[Template],
    factor_categories: &[String],
    author: &Author,
) -> Result<Outcome, String> {
    let bytes = std::fs::read(path).map_err(|error| format!("cannot read it: {error}"))?;
    let text = String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_owned())?;
    let mut file = markdown_file::parse(&text, templates).map_err(|error| error.to_string())?;
    let folder = path.parent().unwrap_or(Path::new("."));
    let images = images_beside(&file.document, folder)?;
    // Images of a postmortem already here are matched by their bytes, so a round trip
    // changes nothing; the ones it lacks are added first.
    if !images.is_empty()
        && let Some(id) = file.id
        && store
            .get_postmortem(id, Visibility::Everything)
            .await
            .map_err(|error| error.to_string())?
            .is_some()
    {
        let paths = store_images(store, id, &images).await?;
        rewrite_image_links(&mut file.document, &paths);
    }
    let template = templates
        .iter()
        .find(|template| template.key == file.document.template)
        .ok_or_else(|| format!("there is no template `{}`", file.document.template))?;
    let document = file
        .document
        .validate(template, factor_categories)
        .map_err(|errors| errors.summary())?;
    for id in &document.get().incidents {
        let found = store
            .get_incident(*id, Visibility::Everything)
            .await
            .map_err(|error| error.to_string())?;
        if found.is_none() {
            return Err(format!("incidents: there is no incident {id}"));
        }
    }
    if let Some(owner) = document.get().owner
        && store
            .get_user(owner)
            .await
            .map_err(|error| error.to_string())?
            .is_none()
    {
        return Err(format!("owner: there is no user {owner}"));
    }
    let now = SystemClock.now();
    let existing = match file.id {
        Some(id) => store
            .get_postmortem(id, Visibility::Everything)
            .await
            .map_err(|error| error.to_string())?,
        None => None,
    };
    match existing {
        Some(current) if current.status == file.status && &current.document == document.get() => {
            Ok(Outcome::Skipped)
        }
        Some(current) => {
            let status = file.status;
            let updated = store
                .update_postmortem(
                    current.id,
                    Visibility::Everything,
                    None,
                    author.clone(),
                    now,
                    Box::new(move |_| Ok((status, document))),
                )
                .await
                .map_err(describe)?;
            Ok(Outcome::Updated(updated.id))
        }
        None => {
            let created = store
                .create_postmortem(
                    NewPostmortem {
                        id: file.id,
                        status: file.status,
                        document,
                    },
                    author.clone(),
                    now,
                )
                .await
                .map_err(describe)?;
            if !images.is_empty() {
                // A new postmortem has its images only once it exists: a second version
                // points its links at them.
                let paths = store_images(store, created.id, &images).await?;
                let template = template.clone();
                let categories = factor_categories.to_vec();
                store
                    .update_postmortem(
                        created.id,
                        Visibility::Everything,
                        None,
                        author.clone(),
                        now,
                        Box::new(move |current| {
                            let mut document = current.document.clone();
                            rewrite_image_links(&mut document, &paths);
                            Ok((current.status, document.validate(&template, &categories)?))
                        }),
                    )
                    .await
                    .map_err(describe)?;
            }
            Ok(Outcome::Created(created.id))
        }
    }
}

/// Image links a file makes to files beside it (`pm-3-images/7-p99.png`, as `export` writes
/// them), each once, with the file's path; a link to a file that is not there is left alone.
fn images_beside(
    document: &hindsight_domain::document::PostmortemDocument,
    folder: &Path,
) -> Result<Vec<(String, PathBuf)>, String> {
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for text in document.sections.values() {
        let mut rest = text.as_str();
        while let Some(start) = rest.find("](") {
            rest = &rest[start + 2..];
            let end = rest.find([')', ' ']).unwrap_or(rest.len());
            let link = &rest[..end];
            let local = !link.is_empty()
                && !link.starts_with('/')
                && !link.contains("://")
                && !link.split('/').any(|part| part == ".." || part.is_empty())
                && link.split('/').count() == 2
                && link
                    .split('/')
                    .next()
                    .is_some_and(|dir| dir.ends_with("-images"));
            if local && !found.iter().any(|(known, _)| known == link) {
                let path = folder.join(link);
                if path.is_file() {
                    found.push((link.to_owned(), path));
                }
            }
        }
    }
    Ok(found)
}

/// Stores each image on `postmortem` unless one with the same bytes is there, and answers
/// each link with the path Hindsight serves it at.
async fn store_images(
    store: &dyn Store,
    postmortem: hindsight_domain::document::PostmortemId,
    images: &[(String, PathBuf)],
) -> Result<Vec<(String, String)>, String> {
    let existing = store
        .list_images(postmortem, Visibility::Everything)
        .await
        .map_err(|error| error.to_string())?;
    let mut paths = Vec::new();
    for (link, path) in images {
        let bytes = std::fs::read(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        let kind = hindsight_domain::image::check_upload(
            &bytes,
            None,
            hindsight_domain::image::DEFAULT_MAX_IMAGE_BYTES,
        )
        .map_err(|reason| format!("{}: {reason}", path.display()))?;
        let sha256 = hindsight_http::postmortems::images::sha256_hex(&bytes);
        let image = match existing.iter().find(|image| image.sha256 == sha256) {
            Some(image) => image.clone(),
            None => {
                let name = link
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .split_once('-')
                    .map_or(link.as_str(), |(_, name)| name);
                store
                    .add_image(
                        hindsight_store::NewImage {
                            postmortem,
                            name: hindsight_domain::image::clean_name(name, kind),
                            content_type: kind,
                            sha256,
                            bytes,
                            created_by: None,
                        },
                        Visibility::Everything,
                        SystemClock.now(),
                    )
                    .await
                    .map_err(|error| error.to_string())?
            }
        };
        paths.push((link.clone(), image.path()));
    }
    Ok(paths)
}

fn rewrite_image_links(
    document: &mut hindsight_domain::document::PostmortemDocument,
    paths: &[(String, String)],
) {
    for text in document.sections.values_mut() {
        for (link, path) in paths {
            *text = text.replace(&format!("]({link})"), &format!("]({path})"));
        }
    }
}

fn describe(error: StoreError) -> String {
    match error {
        StoreError::Invalid(errors) => errors.summary(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use hindsight_domain::access::Visibility;
    use hindsight_domain::document::{Author, PostmortemDocument};
    use hindsight_domain::image::ImageType;
    use hindsight_domain::postmortem::{
        DEFAULT_FACTOR_CATEGORIES, PostmortemStatus, builtin_templates,
    };
    use hindsight_store::testing::TestDatabase;
    use hindsight_store::{NewImage, NewPostmortem};

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\0IEND\xaeB`\x82";

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn images_go_beside_the_exported_file_and_come_back_on_import_once() {
        let source = TestDatabase::sqlite().await;
        let store = source.store();
        let now = hindsight_domain::to_stored_precision(jiff::Timestamp::now());
        let incident = hindsight_domain::IncidentDraft {
            title: Some("Checkout returns 502".into()),
            severity: Some("SEV2".into()),
            started_at: Some("2026-11-20T12:20:00Z".into()),
            ..Default::default()
        }
        .validate(now)
        .unwrap();
        let incident = store.create_incident(incident, None, now).await.unwrap();
        let categories: Vec<String> = DEFAULT_FACTOR_CATEGORIES
            .iter()
            .map(|category| (*category).to_owned())
            .collect();
        let template = builtin_templates().remove(0);
        let valid = |impact: &str| {
            PostmortemDocument {
                title: "Checkout outage".into(),
                incidents: vec![incident.id],
                template: "default".into(),
                sections: [("impact".to_owned(), impact.to_owned())].into(),
                ..PostmortemDocument::default()
            }
            .validate(&template, &categories)
            .unwrap()
        };
        let author = Author {
            user_id: None,
            name: "test".into(),
        };
        let postmortem = store
            .create_postmortem(
                NewPostmortem {
                    id: None,
                    status: PostmortemStatus::Draft,
                    document: valid("placeholder"),
                },
                author.clone(),
                now,
            )
            .await
            .unwrap();
        let image = store
            .add_image(
                NewImage {
                    postmortem: postmortem.id,
                    name: "p99.png".into(),
                    content_type: ImageType::Png,
                    sha256: hindsight_http::postmortems::images::sha256_hex(PNG),
                    bytes: PNG.to_vec(),
                    created_by: None,
                },
                Visibility::Everything,
                now,
            )
            .await
            .unwrap();
        let text = format!("The graph:\n\n{}", image.markdown());
        let document = valid(&text);
        store
            .update_postmortem(
                postmortem.id,
                Visibility::Everything,
                None,
                author,
                now,
                Box::new(move |_| Ok((PostmortemStatus::Draft, document))),
            )
            .await
            .unwrap();

        let folder = tempfile::tempdir().unwrap();
        super::export_to(&*store, folder.path()).await.unwrap();
        let file = std::fs::read_to_string(folder.path().join("pm-1.md")).unwrap();
        assert!(file.contains("![p99](pm-1-images/1-p99.png)"), "{file}");
        assert_eq!(
            std::fs::read(folder.path().join("pm-1-images/1-p99.png")).unwrap(),
            PNG
        );

        // Into the same database: nothing changes, no image is added twice.
        let again = super::import_from(store.clone(), folder.path(), &categories)
            .await
            .unwrap();
        assert_eq!(again.skipped.len(), 1, "{again:?}");
        assert_eq!(
            store
                .list_images(postmortem.id, Visibility::Everything)
                .await
                .unwrap()
                .len(),
            1
        );

        // Into a new database with the same incident: the image is stored and linked.
        let target = TestDatabase::sqlite().await;
        let fresh = target.store();
        let incident = hindsight_domain::IncidentDraft {
            title: Some("Checkout returns 502".into()),
            severity: Some("SEV2".into()),
            started_at: Some("2026-11-20T12:20:00Z".into()),
            ..Default::default()
        }
        .validate(now)
        .unwrap();
        fresh.create_incident(incident, None, now).await.unwrap();
        let report = super::import_from(fresh.clone(), folder.path(), &categories)
            .await
            .unwrap();
        assert_eq!(report.created.len(), 1, "{report:?}");
        let imported = fresh
            .get_postmortem(postmortem.id, Visibility::Everything)
            .await
            .unwrap()
            .unwrap();
        let images = fresh
            .list_images(postmortem.id, Visibility::Everything)
            .await
            .unwrap();
        assert_eq!(images.len(), 1);
        assert_eq!(
            imported.document.sections["impact"],
            format!("The graph:\n\n![p99]({})", images[0].path())
        );
    }
}
