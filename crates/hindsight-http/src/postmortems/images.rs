//! A postmortem's images: uploaded through the API (the raw bytes) or the editor (a form with
//! a file), checked by their bytes in the domain, stored in the database, and served from
//! Hindsight's own origin only to those who may read the postmortem, with the type they were
//! checked to be and `nosniff`, so a browser never reads one as anything else.

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use hindsight_domain::access::Actor;
use hindsight_domain::document::PostmortemId;
use hindsight_domain::image::{ImageMeta, check_upload, clean_name};
use hindsight_store::{NewImage, StoreError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use super::api::parse_id;
use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::gate::CurrentActor;
use crate::pages::PageError;

/// An image as the API lists it, with where it is served and the Markdown that shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImageView {
    #[serde(flatten)]
    pub image: ImageMeta,
    /// The path it is served at, on this server.
    pub url: String,
    /// Paste this into a section to show it.
    pub markdown: String,
}

impl From<ImageMeta> for ImageView {
    fn from(image: ImageMeta) -> Self {
        Self {
            url: image.path(),
            markdown: image.markdown(),
            image,
        }
    }
}

/// Why an upload was refused, or that the postmortem is not there for this reader.
enum UploadError {
    Refused(String),
    Store(StoreError),
}

/// Checks `bytes` and stores them as an image of `postmortem`.
async fn store_image(
    state: &AppState,
    actor: &Actor,
    postmortem: PostmortemId,
    name: &str,
    declared: Option<&str>,
    bytes: Vec<u8>,
) -> Result<ImageMeta, UploadError> {
    let kind = check_upload(&bytes, declared, state.postmortems.max_image_bytes)
        .map_err(UploadError::Refused)?;
    let sha256 = sha256_hex(&bytes);
    // The same file twice is one image.
    if let Some(same) = state
        .store
        .list_images(postmortem, actor.visibility())
        .await
        .map_err(UploadError::Store)?
        .into_iter()
        .find(|image| image.sha256 == sha256)
    {
        return Ok(same);
    }
    let image = state
        .store
        .add_image(
            NewImage {
                postmortem,
                name: clean_name(name, kind),
                content_type: kind,
                sha256,
                bytes,
                created_by: Some(actor.user.id),
            },
            actor.visibility(),
            hindsight_domain::to_stored_precision(state.clock.now()),
        )
        .await
        .map_err(UploadError::Store)?;
    tracing::info!(postmortem.id = %postmortem, image.id = image.id, "image added");
    Ok(image)
}

/// The hex SHA-256 an image is known by.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Reads a body of at most `limit` bytes; more is a 413 before the rest is read.
async fn read_limited(body: Body, limit: u64) -> Result<Vec<u8>, ApiError> {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("the upload broke off: {error}"),
            )
        })?;
        if let Ok(data) = frame.into_data() {
            if (bytes.len() + data.len()) as u64 > limit {
                return Err(ApiError::payload_too_large(limit as usize));
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The file's name, kept as the image's name and alt text (`graph.png`).
    pub name: Option<String>,
}

/// Add an image to a postmortem: the body is the image itself, PNG, JPEG or WebP, at most the
/// configured size (5 MiB by default). It is checked by its bytes: SVG, and anything that is
/// not the image it says it is, is refused. The answer carries the Markdown that shows it.
#[utoipa::path(post, path = "/api/v1/postmortems/{id}/images", tag = "postmortems",
    params(("id" = i64, Path), UploadQuery),
    request_body(description = "The image file itself", content(
        (crate::openapi::Binary = "image/png"),
        (crate::openapi::Binary = "image/jpeg"),
        (crate::openapi::Binary = "image/webp"),
    )),
    responses(
        (status = 201, body = ImageView),
        (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "Not a PNG, JPEG or WebP image, or empty", body = ErrorBody),
    ))]
pub async fn upload(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    query: Result<Query<UploadQuery>, QueryRejection>,
    request: axum::extract::Request,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let Query(query) = query?;
    let declared = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let bytes = read_limited(request.into_body(), state.postmortems.max_image_bytes).await?;
    let name = query.name.unwrap_or_default();
    match store_image(&state, &actor, id, &name, declared.as_deref(), bytes).await {
        Ok(image) => {
            let view = ImageView::from(image);
            Ok((
                StatusCode::CREATED,
                [(header::LOCATION, view.url.clone())],
                ApiJson(view),
            ))
        }
        Err(UploadError::Refused(message)) => Err(ApiError::invalid(
            hindsight_domain::ValidationErrors::single("image", message),
        )),
        Err(UploadError::Store(StoreError::NotFound)) => {
            Err(ApiError::not_found(format!("there is no postmortem {id}")))
        }
        Err(UploadError::Store(error)) => Err(error.into()),
    }
}

/// A postmortem's images, oldest first.
#[utoipa::path(get, path = "/api/v1/postmortems/{id}/images", tag = "postmortems",
    params(("id" = i64, Path)),
    responses((status = 200, body = [ImageView]), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
) -> Result<ApiJson<Vec<ImageView>>, ApiError> {
    let id = parse_id(&id)?;
    let images = state
        .store
        .list_images(id, actor.visibility())
        .await
        .map_err(ApiError::or_missing(|| {
            ApiError::not_found(format!("there is no postmortem {id}"))
        }))?;
    Ok(ApiJson(images.into_iter().map(ImageView::from).collect()))
}

/// The image itself, for those who may read its postmortem.
pub async fn serve(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path((id, image)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let not_found = || PageError::not_found("There is no such image.");
    let id = parse_id(&id).map_err(|_| not_found())?;
    let image: i64 = image.parse().map_err(|_| not_found())?;
    let found = state
        .store
        .get_image(id, image, actor.visibility())
        .await?
        .ok_or_else(not_found)?;
    let disposition = format!("inline; filename=\"{}\"", found.meta.name);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(found.meta.content_type.as_str()),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition)
                    .unwrap_or_else(|_| HeaderValue::from_static("inline")),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=86400"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        found.bytes,
    )
        .into_response())
}

/// The editor's upload form (`multipart/form-data`, the file in `image`). Back to the editor
/// with the Markdown to paste, or with what was wrong.
pub async fn upload_page(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, PageError> {
    let postmortem =
        parse_id(&id).map_err(|_| PageError::not_found("There is no such postmortem."))?;
    let refused = |message: String| {
        let (state, actor) = (state.clone(), actor.clone());
        async move {
            super::pages::editor_with_notice(
                &state,
                &actor,
                postmortem,
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("The image was not added: {message}."),
            )
            .await
        }
    };
    let mut multipart = match multipart {
        Ok(multipart) => multipart,
        Err(rejection) => return refused(rejection.body_text()).await,
    };
    let limit = state.postmortems.max_image_bytes;
    let mut upload = None;
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) => return refused(format!("the upload broke off: {error}")).await,
        };
        if field.name() != Some("image") {
            continue;
        }
        let name = field.file_name().unwrap_or_default().to_owned();
        let declared = field.content_type().map(str::to_owned);
        let mut bytes = Vec::new();
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    if (bytes.len() + chunk.len()) as u64 > limit {
                        return refused(format!(
                            "the image is larger than the limit of {limit} bytes"
                        ))
                        .await;
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(error) => return refused(format!("the upload broke off: {error}")).await,
            }
        }
        upload = Some((name, declared, bytes));
    }
    // A form sent without choosing a file has an empty part with no name.
    let Some((name, declared, bytes)) =
        upload.filter(|(name, _, bytes)| !(name.is_empty() && bytes.is_empty()))
    else {
        return refused("choose an image to upload".to_owned()).await;
    };
    match store_image(
        &state,
        &actor,
        postmortem,
        &name,
        declared.as_deref(),
        bytes,
    )
    .await
    {
        Ok(image) => Ok(Redirect::to(&format!(
            "/postmortems/{postmortem}/edit?uploaded={}#images",
            image.id
        ))
        .into_response()),
        Err(UploadError::Refused(message)) => refused(message).await,
        Err(UploadError::Store(StoreError::NotFound)) => {
            Err(PageError::not_found("There is no such postmortem."))
        }
        Err(UploadError::Store(error)) => Err(error.into()),
    }
}

/// Remove an image from a postmortem (a screenshot uploaded by mistake, or one that shows what
/// it should not). Markdown that still points at it shows nothing. Audited.
#[utoipa::path(delete, path = "/api/v1/postmortems/{id}/images/{image}", tag = "postmortems",
    params(("id" = i64, Path), ("image" = i64, Path)),
    responses((status = 204, description = "Removed"), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    auditor: crate::audit::Auditor,
    Path((id, image)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    let missing = || ApiError::not_found(format!("there is no image {image} of postmortem {id}"));
    let image: i64 = image.parse().map_err(|_| missing())?;
    remove_image(&state, &actor, &auditor, id, image)
        .await
        .map_err(ApiError::or_missing(missing))?;
    Ok(StatusCode::NO_CONTENT)
}

/// The editor's *Remove* beside an image.
pub async fn delete_page(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    auditor: crate::audit::Auditor,
    Path((id, image)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let not_found = || PageError::not_found("There is no such image.");
    let id = parse_id(&id).map_err(|_| not_found())?;
    let image: i64 = image.parse().map_err(|_| not_found())?;
    match remove_image(&state, &actor, &auditor, id, image).await {
        Ok(removed) => {
            super::pages::editor_with_notice(
                &state,
                &actor,
                id,
                StatusCode::OK,
                format!(
                    "Removed {}. Any section that still shows it shows nothing there now.",
                    removed.name
                ),
            )
            .await
        }
        Err(StoreError::NotFound) => Err(not_found()),
        Err(error) => Err(error.into()),
    }
}

async fn remove_image(
    state: &AppState,
    actor: &Actor,
    auditor: &crate::audit::Auditor,
    postmortem: PostmortemId,
    image: i64,
) -> Result<ImageMeta, StoreError> {
    let removed = state
        .store
        .delete_image(postmortem, image, actor.visibility())
        .await?;
    auditor
        .record(
            "postmortem.image_removed",
            format!("postmortem:{postmortem}"),
            format!(
                "{} ({} bytes, sha256 {})",
                removed.name, removed.byte_size, removed.sha256
            ),
        )
        .await;
    Ok(removed)
}
