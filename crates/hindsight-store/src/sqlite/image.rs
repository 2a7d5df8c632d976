//! A postmortem's images on SQLite.

use hindsight_domain::access::Visibility;
use hindsight_domain::document::PostmortemId;
use hindsight_domain::image::{ImageMeta, ImageType};
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{conversion, from_micros, parsed, select_postmortem, to_micros};
use crate::{Image, NewImage, StoreError};

const META_COLUMNS: &str =
    "postmortem_image_id, postmortem_id, name, content_type, byte_size, sha256, created_at";

fn meta_from_row(row: &Row<'_>) -> rusqlite::Result<ImageMeta> {
    let postmortem: i64 = row.get(1)?;
    let size: i64 = row.get(4)?;
    Ok(ImageMeta {
        id: row.get(0)?,
        postmortem_id: PostmortemId::new(postmortem)
            .ok_or_else(|| conversion(1, StoreError::backend_message("non-positive id")))?,
        name: row.get(2)?,
        content_type: parsed(3, &row.get::<_, String>(3)?, ImageType::parse)?,
        byte_size: u64::try_from(size).map_err(|error| conversion(4, error))?,
        sha256: row.get(5)?,
        created_at: from_micros(row.get(6)?)?,
    })
}

pub(super) fn add(
    connection: &Connection,
    image: NewImage,
    visibility: Visibility,
    now: Timestamp,
) -> Result<ImageMeta, StoreError> {
    if select_postmortem(connection, image.postmortem, visibility)?.is_none() {
        return Err(StoreError::NotFound);
    }
    let now = to_micros(now);
    let id: i64 = connection
        .prepare_cached(
            "insert into postmortem_image (postmortem_id, name, content_type, byte_size, \
             sha256, bytes, created_by_id, created_at, updated_at) \
             values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) returning postmortem_image_id",
        )?
        .query_row(
            params![
                image.postmortem.get(),
                image.name,
                image.content_type.as_str(),
                image.bytes.len() as i64,
                image.sha256,
                image.bytes,
                image.created_by.map(|user| user.get()),
                now,
            ],
            |row| row.get(0),
        )?;
    connection
        .prepare_cached(&format!(
            "select {META_COLUMNS} from postmortem_image where postmortem_image_id = ?1"
        ))?
        .query_row(params![id], meta_from_row)
        .map_err(Into::into)
}

pub(super) fn get(
    connection: &Connection,
    postmortem: PostmortemId,
    image: i64,
    visibility: Visibility,
) -> Result<Option<Image>, StoreError> {
    if select_postmortem(connection, postmortem, visibility)?.is_none() {
        return Ok(None);
    }
    Ok(connection
        .prepare_cached(&format!(
            "select {META_COLUMNS}, bytes from postmortem_image \
             where postmortem_id = ?1 and postmortem_image_id = ?2"
        ))?
        .query_row(params![postmortem.get(), image], |row| {
            Ok(Image {
                meta: meta_from_row(row)?,
                bytes: row.get(7)?,
            })
        })
        .optional()?)
}

pub(super) fn list(
    connection: &Connection,
    postmortem: PostmortemId,
    visibility: Visibility,
) -> Result<Vec<ImageMeta>, StoreError> {
    if select_postmortem(connection, postmortem, visibility)?.is_none() {
        return Err(StoreError::NotFound);
    }
    let mut statement = connection.prepare_cached(&format!(
        "select {META_COLUMNS} from postmortem_image where postmortem_id = ?1 \
         order by postmortem_image_id"
    ))?;
    let rows = statement.query_map(params![postmortem.get()], meta_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn delete(
    connection: &Connection,
    postmortem: PostmortemId,
    image: i64,
    visibility: Visibility,
) -> Result<ImageMeta, StoreError> {
    if select_postmortem(connection, postmortem, visibility)?.is_none() {
        return Err(StoreError::NotFound);
    }
    connection
        .prepare_cached(&format!(
            "delete from postmortem_image where postmortem_id = ?1 and postmortem_image_id = ?2 \
             returning {META_COLUMNS}"
        ))?
        .query_row(params![postmortem.get(), image], meta_from_row)
        .optional()?
        .ok_or(StoreError::NotFound)
}
