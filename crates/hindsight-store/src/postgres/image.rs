//! A postmortem's images on PostgreSQL.

use deadpool_postgres::GenericClient;
use hindsight_domain::access::Visibility;
use hindsight_domain::document::PostmortemId;
use hindsight_domain::image::{ImageMeta, ImageType};
use jiff::Timestamp;
use tokio_postgres::Row;

use super::select_postmortem;
use crate::{Image, NewImage, StoreError};

const META_COLUMNS: &str =
    "postmortem_image_id, postmortem_id, name, content_type, byte_size, sha256, created_at";

fn meta_from_row(row: &Row) -> Result<ImageMeta, StoreError> {
    let content_type: String = row.try_get(3)?;
    let size: i64 = row.try_get(4)?;
    Ok(ImageMeta {
        id: row.try_get(0)?,
        postmortem_id: PostmortemId::new(row.try_get(1)?)
            .ok_or_else(|| StoreError::backend_message("non-positive id"))?,
        name: row.try_get(2)?,
        content_type: ImageType::parse(&content_type).ok_or_else(|| {
            StoreError::backend_message(format!("unexpected image type `{content_type}`"))
        })?,
        byte_size: u64::try_from(size)
            .map_err(|error| StoreError::backend_message(error.to_string()))?,
        sha256: row.try_get(5)?,
        created_at: row.try_get(6)?,
    })
}

pub(super) async fn add(
    client: &impl GenericClient,
    image: NewImage,
    visibility: Visibility,
    now: Timestamp,
) -> Result<ImageMeta, StoreError> {
    if select_postmortem(client, image.postmortem, visibility, false)
        .await?
        .is_none()
    {
        return Err(StoreError::NotFound);
    }
    let row = client
        .query_one(
            &format!(
                "insert into postmortem_image (postmortem_id, name, content_type, byte_size, \
                 sha256, bytes, created_by_id, created_at, updated_at) \
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $8) returning {META_COLUMNS}"
            ),
            &[
                &image.postmortem.get(),
                &image.name,
                &image.content_type.as_str(),
                &(image.bytes.len() as i64),
                &image.sha256,
                &image.bytes,
                &image.created_by.map(|user| user.get()),
                &now,
            ],
        )
        .await?;
    meta_from_row(&row)
}

pub(super) async fn get(
    client: &impl GenericClient,
    postmortem: PostmortemId,
    image: i64,
    visibility: Visibility,
) -> Result<Option<Image>, StoreError> {
    if select_postmortem(client, postmortem, visibility, false)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    let row = client
        .query_opt(
            &format!(
                "select {META_COLUMNS}, bytes from postmortem_image \
                 where postmortem_id = $1 and postmortem_image_id = $2"
            ),
            &[&postmortem.get(), &image],
        )
        .await?;
    row.map(|row| {
        Ok(Image {
            meta: meta_from_row(&row)?,
            bytes: row.try_get(7)?,
        })
    })
    .transpose()
}

pub(super) async fn list(
    client: &impl GenericClient,
    postmortem: PostmortemId,
    visibility: Visibility,
) -> Result<Vec<ImageMeta>, StoreError> {
    if select_postmortem(client, postmortem, visibility, false)
        .await?
        .is_none()
    {
        return Err(StoreError::NotFound);
    }
    client
        .query(
            &format!(
                "select {META_COLUMNS} from postmortem_image where postmortem_id = $1 \
                 order by postmortem_image_id"
            ),
            &[&postmortem.get()],
        )
        .await?
        .iter()
        .map(meta_from_row)
        .collect()
}

pub(super) async fn delete(
    client: &impl GenericClient,
    postmortem: PostmortemId,
    image: i64,
    visibility: Visibility,
) -> Result<ImageMeta, StoreError> {
    if select_postmortem(client, postmortem, visibility, false)
        .await?
        .is_none()
    {
        return Err(StoreError::NotFound);
    }
    let row = client
        .query_opt(
            &format!(
                "delete from postmortem_image where postmortem_id = $1 \
                 and postmortem_image_id = $2 returning {META_COLUMNS}"
            ),
            &[&postmortem.get(), &image],
        )
        .await?
        .ok_or(StoreError::NotFound)?;
    meta_from_row(&row)
}
