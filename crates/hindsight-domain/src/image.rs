//! Images a postmortem carries (graphs from the incident, screenshots): which files are taken,
//! decided from their bytes, never from what the sender says they are.
//!
//! Only PNG, JPEG and WebP are taken. SVG is refused: it is a document that can carry script,
//! and a sanitizer is one more thing to get wrong. A file whose first bytes are not those of
//! the format it claims (HTML named `graph.png`) is refused too, so the server never hands a
//! browser anything but the image it says it is.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

string_enum! {
    /// An image format Hindsight serves.
    ImageType { Png => "image/png", Jpeg => "image/jpeg", Webp => "image/webp" }
}

/// The default cap on one image, in bytes (5 MiB); `max_image_bytes` in the configuration.
pub const DEFAULT_MAX_IMAGE_BYTES: u64 = 5 * 1024 * 1024;
/// Longest image name kept, in characters.
pub const MAX_IMAGE_NAME_CHARS: usize = 120;

impl ImageType {
    /// The format the bytes are, from their signature, the structure right after it, and
    /// how the file ends: a file cut short is not an image a browser can show.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
        const PNG_END: &[u8] = b"\0\0\0\0IEND\xaeB`\x82";
        if bytes.starts_with(PNG) && bytes.get(12..16) == Some(b"IHDR") {
            return bytes.ends_with(PNG_END).then_some(Self::Png);
        }
        if bytes.len() > 4 && bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            // Some cameras pad after the end-of-image marker.
            let end = bytes.len() - bytes.iter().rev().take_while(|byte| **byte == 0).count();
            return bytes[..end].ends_with(&[0xFF, 0xD9]).then_some(Self::Jpeg);
        }
        if bytes.get(0..4) == Some(b"RIFF")
            && bytes.get(8..12) == Some(b"WEBP")
            && bytes.get(12..15) == Some(b"VP8")
        {
            let size = u32::from_le_bytes(bytes[4..8].try_into().expect("four bytes")) as usize;
            let whole = size.checked_add(8)?;
            return (whole == bytes.len() || whole + 1 == bytes.len()).then_some(Self::Webp);
        }
        None
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::Webp => "webp",
        }
    }
}

/// Why an upload is refused, for the person who sent it.
pub fn check_upload(
    bytes: &[u8],
    declared: Option<&str>,
    max_bytes: u64,
) -> Result<ImageType, String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    if bytes.len() as u64 > max_bytes {
        return Err(format!(
            "the image is {} bytes; the limit is {max_bytes} bytes",
            bytes.len()
        ));
    }
    let declared = declared
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|value| !value.is_empty() && value != "application/octet-stream");
    if declared.as_deref() == Some("image/svg+xml") {
        return Err("SVG images are refused (they can carry script); upload a PNG instead".into());
    }
    let Some(found) = ImageType::sniff(bytes) else {
        return Err(
            "the file is not a PNG, JPEG or WebP image (its first bytes say otherwise)".into(),
        );
    };
    if let Some(declared) = declared
        && declared != found.as_str()
        && !(declared == "image/jpg" && found == ImageType::Jpeg)
    {
        return Err(format!(
            "the file was sent as {declared} but its bytes are {}",
            found.as_str()
        ));
    }
    Ok(found)
}

/// A name safe to show, to use as alt text and as a file name: letters, digits, `.`, `-`, `_`
/// and spaces as dashes; no path; never empty.
pub fn clean_name(name: &str, kind: ImageType) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let stem = base
        .rsplit_once('.')
        .map_or(base, |(stem, _)| stem)
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect::<String>();
    let stem: String = stem
        .trim_matches('-')
        .chars()
        .take(MAX_IMAGE_NAME_CHARS)
        .collect();
    let stem = if stem.is_empty() {
        "image".to_owned()
    } else {
        stem
    };
    format!("{stem}.{}", kind.extension())
}

/// An image as lists show it: everything but its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImageMeta {
    pub id: i64,
    #[schema(value_type = i64)]
    pub postmortem_id: crate::document::PostmortemId,
    pub name: String,
    pub content_type: ImageType,
    pub byte_size: u64,
    /// Hex SHA-256 of the bytes, for exports and deduplication.
    pub sha256: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
}

impl ImageMeta {
    /// Where Hindsight serves it, the path Markdown refers to.
    pub fn path(&self) -> String {
        image_path(self.postmortem_id.get(), self.id)
    }

    /// Markdown that shows it.
    pub fn markdown(&self) -> String {
        let alt = self
            .name
            .rsplit_once('.')
            .map_or(&*self.name, |(stem, _)| stem);
        format!("![{alt}]({})", self.path())
    }
}

pub fn image_path(postmortem: i64, image: i64) -> String {
    format!("/postmortems/{postmortem}/images/{image}")
}

/// Whether `url` is an image Hindsight serves (`/postmortems/1/images/2`): the only images
/// rendered Markdown may show.
pub fn is_image_path(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("/postmortems/") else {
        return false;
    };
    let mut parts = rest.split('/');
    let numeric = |part: Option<&str>| {
        part.is_some_and(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
    };
    numeric(parts.next())
        && parts.next() == Some("images")
        && numeric(parts.next())
        && parts.next().is_none()
}

/// The image paths a text refers to, in order, each once: `(postmortem, image)`.
pub fn referenced(text: &str) -> Vec<(i64, i64)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("/postmortems/") {
        rest = &rest[start..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '/'))
            .unwrap_or(rest.len());
        let candidate = &rest[..end];
        if is_image_path(candidate) {
            let mut numbers = candidate
                .split('/')
                .filter_map(|part| part.parse::<i64>().ok());
            if let (Some(postmortem), Some(image)) = (numbers.next(), numbers.next())
                && !found.contains(&(postmortem, image))
            {
                found.push((postmortem, image));
            }
        }
        rest = &rest[end.max(1)..];
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\0IEND\xaeB`\x82";

    #[test]
    fn images_are_known_by_their_bytes_not_their_names() {
        assert_eq!(
            check_upload(PNG, Some("image/png"), 1000),
            Ok(ImageType::Png)
        );
        assert_eq!(check_upload(PNG, None, 1000), Ok(ImageType::Png));
        assert_eq!(
            check_upload(
                b"\xFF\xD8\xFF\xE0\0\x10JFIF\xFF\xD9\0\0",
                Some("image/jpg"),
                1000
            ),
            Ok(ImageType::Jpeg)
        );
        assert_eq!(
            check_upload(b"RIFF\x08\0\0\0WEBPVP8L", Some("image/webp"), 1000),
            Ok(ImageType::Webp)
        );
        // Cut short: a browser would show a broken image.
        assert!(check_upload(&PNG[..40], Some("image/png"), 1000).is_err());
        assert!(check_upload(b"\xFF\xD8\xFF\xE0\0\x10JFIF", None, 1000).is_err());
        assert!(check_upload(b"RIFF\xff\0\0\0WEBPVP8L", None, 1000).is_err());
        let html = check_upload(b"<html><script>alert(1)</script>", Some("image/png"), 1000);
        assert!(html.unwrap_err().contains("not a PNG, JPEG or WebP"));
        let svg = check_upload(b"<svg onload=alert(1)>", Some("image/svg+xml"), 1000);
        assert!(svg.unwrap_err().contains("SVG images are refused"));
        assert!(
            check_upload(PNG, Some("image/jpeg"), 1000)
                .unwrap_err()
                .contains("sent as image/jpeg")
        );
        assert!(
            check_upload(PNG, None, 10)
                .unwrap_err()
                .contains("the limit is 10 bytes")
        );
        assert!(check_upload(b"", None, 10).is_err());
        // A PNG signature alone, without its header chunk, is not an image.
        assert!(check_upload(b"\x89PNG\r\n\x1a\n<html>", None, 1000).is_err());
    }

    #[test]
    fn names_lose_paths_and_odd_characters() {
        assert_eq!(clean_name("../../etc/passwd", ImageType::Png), "passwd.png");
        assert_eq!(
            clean_name("C:\\Graphs\\p99 latency.PNG", ImageType::Png),
            "p99-latency.png"
        );
        assert_eq!(clean_name("<script>.jpg", ImageType::Jpeg), "script.jpg");
        assert_eq!(clean_name("", ImageType::Webp), "image.webp");
    }

    #[test]
    fn only_hindsights_own_image_paths_count() {
        assert!(is_image_path("/postmortems/1/images/22"));
        for url in [
            "/postmortems/1/images/22/x",
            "/postmortems/x/images/2",
            "https://evil.example/postmortems/1/images/2",
            "//evil.example/postmortems/1/images/2",
            "/postmortems/1/images/",
            "/postmortems/1/history",
        ] {
            assert!(!is_image_path(url), "{url}");
        }
        assert_eq!(
            referenced(
                "![a](/postmortems/1/images/2) and ![b](/postmortems/1/images/2), ![c](/postmortems/1/images/3)."
            ),
            [(1, 2), (1, 3)]
        );
    }
}
