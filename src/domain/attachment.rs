//! Attached documents (issue 19): what a parent or staff member may attach to an
//! application, recognised and cleaned from the bytes alone.
//!
//! A file is a PDF, a JPEG or a PNG because its bytes say so, never because of its name or
//! the type a browser declared. Anything that could be read as two things (an image with a
//! PDF, ZIP or executable inside, bytes after an image's end, a PDF with a ZIP behind it) is
//! refused: the officer must see what the service stored, and a download must not turn into
//! something else on another program's reading. Images are rewritten segment by segment
//! (JPEG) or chunk by chunk (PNG) keeping only what drawing them needs, so EXIF (with GPS
//! positions), XMP, comments and text chunks never reach storage. PDFs are not rewritten
//! (that needs a PDF writer): one with scripts, launch actions, embedded files or encryption
//! is refused instead.
//!
//! Pure: bytes in, bytes or a refusal with a stable code out.

use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::io::Read;

/// What the document is for; the officer reads a priority claim's document beside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    /// The document behind the application's priority claim.
    PriorityDocument,
    BirthCertificate,
    Other,
}

impl AttachmentKind {
    pub const ALL: [AttachmentKind; 3] = [
        AttachmentKind::PriorityDocument,
        AttachmentKind::BirthCertificate,
        AttachmentKind::Other,
    ];

    pub fn code(self) -> &'static str {
        match self {
            AttachmentKind::PriorityDocument => "priority_document",
            AttachmentKind::BirthCertificate => "birth_certificate",
            AttachmentKind::Other => "other",
        }
    }

    pub fn parse(text: &str) -> Result<AttachmentKind, AttachmentRefusal> {
        AttachmentKind::ALL
            .into_iter()
            .find(|kind| kind.code() == text.trim())
            .ok_or(AttachmentRefusal::KindUnknown)
    }
}

/// The three types accepted, as recognised from the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaType {
    Pdf,
    Jpeg,
    Png,
}

impl MediaType {
    pub fn mime(self) -> &'static str {
        match self {
            MediaType::Pdf => "application/pdf",
            MediaType::Jpeg => "image/jpeg",
            MediaType::Png => "image/png",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            MediaType::Pdf => "pdf",
            MediaType::Jpeg => "jpg",
            MediaType::Png => "png",
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            MediaType::Pdf => "pdf",
            MediaType::Jpeg => "jpeg",
            MediaType::Png => "png",
        }
    }

    pub fn parse(text: &str) -> Option<MediaType> {
        [MediaType::Pdf, MediaType::Jpeg, MediaType::Png]
            .into_iter()
            .find(|media| media.code() == text)
    }

    pub fn is_image(self) -> bool {
        matches!(self, MediaType::Jpeg | MediaType::Png)
    }
}

/// Every reason a file is not stored, each with its stable code (`http/error.rs` has the
/// texts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AttachmentRefusal {
    #[error("the file is empty")]
    Empty,
    #[error("the file is not a PDF, JPEG or PNG")]
    UnsupportedType,
    #[error("the file is also another kind of file")]
    Polyglot,
    #[error("the image ends before its end or is damaged")]
    Truncated,
    #[error("the PDF holds scripts, launch actions or embedded files")]
    PdfScript,
    #[error("the PDF is encrypted")]
    PdfEncrypted,
    #[error("the file is over the size limit")]
    TooLarge,
    #[error("the application already has as many files as allowed")]
    TooMany,
    #[error("the application's files together would pass the limit")]
    TotalTooLarge,
    #[error("the kind of document is not one of priority_document, birth_certificate, other")]
    KindUnknown,
    #[error("the application has no priority claim this document could support")]
    KindNotAccepted,
}

impl AttachmentRefusal {
    pub fn code(self) -> &'static str {
        match self {
            AttachmentRefusal::Empty => "attachment_empty",
            AttachmentRefusal::UnsupportedType => "attachment_unsupported_type",
            AttachmentRefusal::Polyglot => "attachment_polyglot",
            AttachmentRefusal::Truncated => "attachment_truncated",
            AttachmentRefusal::PdfScript => "attachment_pdf_script",
            AttachmentRefusal::PdfEncrypted => "attachment_pdf_encrypted",
            AttachmentRefusal::TooLarge => "attachment_too_large",
            AttachmentRefusal::TooMany => "attachment_too_many",
            AttachmentRefusal::TotalTooLarge => "attachment_total_too_large",
            AttachmentRefusal::KindUnknown => "attachment_kind_unknown",
            AttachmentRefusal::KindNotAccepted => "attachment_kind_not_accepted",
        }
    }
}

/// The limits on one application's files (configuration: `[attachments]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttachmentLimits {
    pub file_bytes_max: u64,
    pub files_max: u32,
    pub total_bytes_max: u64,
}

impl AttachmentLimits {
    /// Whether one more file of `size` bytes fits beside `count` files of `bytes` in all.
    pub fn admit(&self, count: u32, bytes: u64, size: u64) -> Result<(), AttachmentRefusal> {
        if size > self.file_bytes_max {
            return Err(AttachmentRefusal::TooLarge);
        }
        if count >= self.files_max {
            return Err(AttachmentRefusal::TooMany);
        }
        if bytes.saturating_add(size) > self.total_bytes_max {
            return Err(AttachmentRefusal::TotalTooLarge);
        }
        Ok(())
    }
}

/// A file that passed: its type, the bytes to store (an image without its metadata; a PDF
/// unchanged) and their SHA-256. Only [`accept`] makes one, so the hash a journal records
/// from it is the hash of these bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Accepted {
    pub media_type: MediaType,
    pub bytes: Vec<u8>,
    sha256: [u8; 32],
}

impl Accepted {
    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }
}

impl std::fmt::Debug for Accepted {
    /// A scan is personal data: never its bytes in a log or a panic message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accepted")
            .field("media_type", &self.media_type)
            .field("size", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// An attachment as the journal records it (`Event::AttachmentAdded`): what it is and the
/// fingerprint of its bytes, never the bytes. Who attached it and when are the event's
/// actor and time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRecord {
    /// 1, 2, 3, … within the application.
    pub ordinal: u32,
    pub kind: AttachmentKind,
    pub media_type: MediaType,
    pub size: u64,
    /// SHA-256 of the stored bytes, hex.
    pub sha256: String,
}

impl AttachmentRecord {
    /// The record of `accepted` as the application's `ordinal`-th file.
    pub fn of(accepted: &Accepted, kind: AttachmentKind, ordinal: u32) -> AttachmentRecord {
        AttachmentRecord {
            ordinal,
            kind,
            media_type: accepted.media_type,
            size: accepted.bytes.len() as u64,
            sha256: hex::encode(accepted.sha256),
        }
    }
}

/// Recognises `bytes` and returns what may be stored, or why not.
pub fn accept(bytes: &[u8]) -> Result<Accepted, AttachmentRefusal> {
    if bytes.is_empty() {
        return Err(AttachmentRefusal::Empty);
    }
    let (media_type, bytes) = if bytes.starts_with(b"%PDF-") {
        check_pdf(bytes)?;
        (MediaType::Pdf, bytes.to_vec())
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        (MediaType::Jpeg, clean_jpeg(bytes)?)
    } else if bytes.starts_with(PNG_SIGNATURE) {
        (MediaType::Png, clean_png(bytes)?)
    } else if find(&bytes[..bytes.len().min(1024)], b"%PDF-").is_some() {
        // A PDF reader finds the header anywhere in the first KB: this file is a PDF to it
        // and something else to whatever reads its first bytes.
        return Err(AttachmentRefusal::Polyglot);
    } else {
        return Err(AttachmentRefusal::UnsupportedType);
    };
    let sha256 = sha2::Sha256::digest(&bytes).into();
    Ok(Accepted {
        media_type,
        bytes,
        sha256,
    })
}

/// What another program would recognise inside an image's metadata or a PDF's tail: a
/// PDF, a ZIP (local header or end of directory), a Windows or ELF executable, HTML.
const FOREIGN_SIGNATURES: [&[u8]; 8] = [
    b"%PDF-",
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"This program cannot be run in DOS mode",
    b"\x7fELF",
    b"<script",
    b"<html",
    b"<SCRIPT",
];

fn holds_foreign(bytes: &[u8]) -> bool {
    FOREIGN_SIGNATURES
        .iter()
        .any(|signature| find(bytes, signature).is_some())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn check_foreign_start(bytes: &[u8]) -> Result<(), AttachmentRefusal> {
    if find(&bytes[1..bytes.len().min(1024)], b"%PDF-").is_some() {
        return Err(AttachmentRefusal::Polyglot);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// JPEG

/// Rewrites the marker stream keeping what drawing needs: frames, tables, scans, the JFIF
/// header (without its thumbnail), an ICC colour profile and Adobe's colour-transform flag.
/// Every other APPn (EXIF and XMP are APP1) and every comment is dropped.
fn clean_jpeg(bytes: &[u8]) -> Result<Vec<u8>, AttachmentRefusal> {
    check_foreign_start(bytes)?;
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&[0xFF, 0xD8]);
    let mut at = 2;
    let (mut framed, mut scanned) = (false, false);
    loop {
        let marker = next_marker(bytes, &mut at)?;
        match marker {
            0xD9 => {
                if !(framed && scanned) {
                    return Err(AttachmentRefusal::Truncated);
                }
                out.extend_from_slice(&[0xFF, 0xD9]);
                if at != bytes.len() {
                    return Err(AttachmentRefusal::Polyglot);
                }
                return Ok(out);
            }
            0x01 | 0xD0..=0xD7 => out.extend_from_slice(&[0xFF, marker]),
            0xD8 => return Err(AttachmentRefusal::Polyglot),
            _ => {
                let segment = segment_at(bytes, at)?;
                let payload = &segment[2..];
                if holds_foreign(payload) {
                    return Err(AttachmentRefusal::Polyglot);
                }
                if let Some(kept) = kept_segment(marker, segment) {
                    out.extend_from_slice(&[0xFF, marker]);
                    out.extend_from_slice(&kept);
                }
                at += segment.len();
                framed |= matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
                if marker == 0xDA {
                    scanned = true;
                    let end = entropy_end(bytes, at)?;
                    out.extend_from_slice(&bytes[at..end]);
                    at = end;
                }
            }
        }
    }
}

/// Reads `0xFF` (and any fill bytes) and the marker after it.
fn next_marker(bytes: &[u8], at: &mut usize) -> Result<u8, AttachmentRefusal> {
    if bytes.get(*at) != Some(&0xFF) {
        return Err(AttachmentRefusal::Truncated);
    }
    while bytes.get(*at) == Some(&0xFF) {
        *at += 1;
    }
    let marker = *bytes.get(*at).ok_or(AttachmentRefusal::Truncated)?;
    *at += 1;
    Ok(marker)
}

/// The segment at `at`: its two length bytes and its payload.
fn segment_at(bytes: &[u8], at: usize) -> Result<&[u8], AttachmentRefusal> {
    let length = bytes
        .get(at..at + 2)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        .ok_or(AttachmentRefusal::Truncated)?;
    if length < 2 {
        return Err(AttachmentRefusal::Truncated);
    }
    bytes
        .get(at..at + length)
        .ok_or(AttachmentRefusal::Truncated)
}

/// The segment as it is stored, or None to drop it.
fn kept_segment(marker: u8, segment: &[u8]) -> Option<Vec<u8>> {
    let payload = &segment[2..];
    match marker {
        // JFIF: identifier, version, units, densities (12 bytes), then a thumbnail we drop.
        0xE0 if payload.starts_with(b"JFIF\0") && payload.len() >= 14 => {
            let mut kept = vec![0, 16];
            kept.extend_from_slice(&payload[..12]);
            kept.extend_from_slice(&[0, 0]);
            Some(kept)
        }
        0xE2 if payload.starts_with(b"ICC_PROFILE\0") => Some(segment.to_vec()),
        0xEE if payload.starts_with(b"Adobe") => Some(segment.to_vec()),
        0xE0..=0xEF | 0xFE => None,
        _ => Some(segment.to_vec()),
    }
}

/// Where the entropy-coded data after a scan header ends: at the first marker that is not a
/// stuffed zero or a restart.
fn entropy_end(bytes: &[u8], mut at: usize) -> Result<usize, AttachmentRefusal> {
    loop {
        let offset = bytes[at..]
            .iter()
            .position(|&b| b == 0xFF)
            .ok_or(AttachmentRefusal::Truncated)?;
        at += offset;
        match bytes.get(at + 1) {
            None => return Err(AttachmentRefusal::Truncated),
            Some(0x00 | 0xD0..=0xD7) => at += 2,
            Some(0xFF) => at += 1,
            Some(_) => return Ok(at),
        }
    }
}

// ---------------------------------------------------------------------------------------
// PNG

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// The ancillary chunks drawing needs (transparency, colour, gamma, pixel size, background).
/// eXIf, tEXt, zTXt, iTXt, tIME and every other ancillary chunk are dropped.
const PNG_KEPT_ANCILLARY: [&[u8; 4]; 9] = [
    b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"pHYs", b"bKGD", b"cICP",
];

fn clean_png(bytes: &[u8]) -> Result<Vec<u8>, AttachmentRefusal> {
    check_foreign_start(bytes)?;
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(PNG_SIGNATURE);
    let mut at = PNG_SIGNATURE.len();
    let mut first = true;
    loop {
        let Chunk { kind, data, whole } = png_chunk(bytes, at)?;
        if first && &kind != b"IHDR" {
            return Err(AttachmentRefusal::Truncated);
        }
        first = false;
        at += whole.len();
        if &kind != b"IDAT" && holds_foreign(data) {
            return Err(AttachmentRefusal::Polyglot);
        }
        let critical = kind[0].is_ascii_uppercase();
        match &kind {
            b"IHDR" | b"PLTE" | b"IDAT" => out.extend_from_slice(whole),
            b"IEND" => {
                out.extend_from_slice(whole);
                if at != bytes.len() {
                    return Err(AttachmentRefusal::Polyglot);
                }
                return Ok(out);
            }
            _ if critical => return Err(AttachmentRefusal::UnsupportedType),
            _ if PNG_KEPT_ANCILLARY.contains(&&kind) => out.extend_from_slice(whole),
            _ => {}
        }
    }
}

/// One PNG chunk: its type, its data, and the whole chunk (length, type, data, CRC).
struct Chunk<'a> {
    kind: [u8; 4],
    data: &'a [u8],
    whole: &'a [u8],
}

/// The chunk at `at`, its CRC checked.
fn png_chunk(bytes: &[u8], at: usize) -> Result<Chunk<'_>, AttachmentRefusal> {
    let head = bytes.get(at..at + 8).ok_or(AttachmentRefusal::Truncated)?;
    let length = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let kind = [head[4], head[5], head[6], head[7]];
    let whole = at
        .checked_add(12 + length)
        .and_then(|end| bytes.get(at..end))
        .ok_or(AttachmentRefusal::Truncated)?;
    let data = &whole[8..8 + length];
    let stored = u32::from_be_bytes(whole[8 + length..].try_into().expect("four bytes"));
    if crc32fast::hash(&whole[4..8 + length]) != stored {
        return Err(AttachmentRefusal::Truncated);
    }
    Ok(Chunk { kind, data, whole })
}

// ---------------------------------------------------------------------------------------
// PDF

/// Names that make a PDF act rather than show: scripts, launch actions, embedded files and
/// forms that carry scripts. `Encrypt` is refused on its own: an encrypted file cannot be
/// checked for the others.
const PDF_ACTIVE_NAMES: [&[u8]; 7] = [
    b"JS",
    b"JavaScript",
    b"Launch",
    b"EmbeddedFile",
    b"EmbeddedFiles",
    b"RichMedia",
    b"XFA",
];

/// A ZIP reader looks for its end-of-directory record in the last 64 KiB (and 22 bytes).
const ZIP_TAIL_BYTES: usize = 65_557;
/// An object stream inflated past this is refused rather than read on (a deflate bomb).
const PDF_INFLATED_MAX: u64 = 64 * 1024 * 1024;

fn check_pdf(bytes: &[u8]) -> Result<(), AttachmentRefusal> {
    let end = rfind(bytes, b"%%EOF").ok_or(AttachmentRefusal::Truncated)?;
    let after = &bytes[end + 5..];
    if !after.iter().all(|b| b.is_ascii_whitespace() || *b == 0) {
        return Err(AttachmentRefusal::Polyglot);
    }
    if find(
        &bytes[bytes.len().saturating_sub(ZIP_TAIL_BYTES)..],
        b"PK\x05\x06",
    )
    .is_some()
    {
        return Err(AttachmentRefusal::Polyglot);
    }
    let mut budget = PDF_INFLATED_MAX;
    check_pdf_names(bytes)?;
    for stream in object_streams(bytes) {
        let inflated = inflate(stream, &mut budget).ok_or(AttachmentRefusal::PdfScript)?;
        check_pdf_names(&inflated)?;
    }
    Ok(())
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .rposition(|window| window == needle)
}

fn check_pdf_names(bytes: &[u8]) -> Result<(), AttachmentRefusal> {
    for name in pdf_names(bytes) {
        if name == b"Encrypt" {
            return Err(AttachmentRefusal::PdfEncrypted);
        }
        if PDF_ACTIVE_NAMES.contains(&name.as_slice()) {
            return Err(AttachmentRefusal::PdfScript);
        }
    }
    Ok(())
}

/// Every `/Name` token, with `#xx` escapes decoded as a PDF reader decodes them (so
/// `/J#61vaScript` is `JavaScript`).
fn pdf_names(bytes: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    let is_delimiter = |b: u8| b.is_ascii_whitespace() || b"()<>[]{}/%".contains(&b) || b == 0;
    bytes
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'/')
        .map(move |(start, _)| {
            let raw = &bytes[start + 1..];
            let length = raw
                .iter()
                .position(|&b| is_delimiter(b))
                .unwrap_or(raw.len());
            decode_name(&raw[..length])
        })
}

fn decode_name(raw: &[u8]) -> Vec<u8> {
    let mut name = Vec::with_capacity(raw.len());
    let mut at = 0;
    while at < raw.len() {
        let escaped = (raw[at] == b'#')
            .then(|| raw.get(at + 1..at + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match escaped {
            Some(byte) => {
                name.push(byte);
                at += 3;
            }
            None => {
                name.push(raw[at]);
                at += 1;
            }
        }
    }
    name
}

/// The raw data of every object stream (`/Type /ObjStm`): the only place a compressed PDF
/// keeps dictionaries, so the only compressed place an action can hide.
fn object_streams(bytes: &[u8]) -> Vec<&[u8]> {
    let mut streams = Vec::new();
    let mut from = 0;
    while let Some(offset) = find(&bytes[from..], b"stream") {
        let keyword = from + offset;
        from = keyword + 6;
        if keyword >= 3 && &bytes[keyword - 3..keyword] == b"end" {
            continue;
        }
        let mut data = from;
        if bytes.get(data) == Some(&b'\r') {
            data += 1;
        }
        if bytes.get(data) != Some(&b'\n') {
            continue;
        }
        data += 1;
        let dictionary = &bytes[keyword.saturating_sub(2048)..keyword];
        let dictionary = rfind(dictionary, b"obj").map_or(dictionary, |at| &dictionary[at..]);
        if pdf_names(dictionary).any(|name| name == b"ObjStm") {
            let end = find(&bytes[data..], b"endstream").map_or(bytes.len(), |at| data + at);
            streams.push(&bytes[data..end]);
        }
    }
    streams
}

/// Inflates zlib data within what is left of `budget`; None if it is not zlib data or
/// would pass the budget.
fn inflate(data: &[u8], budget: &mut u64) -> Option<Vec<u8>> {
    let mut inflated = Vec::new();
    let mut decoder = flate2::read::ZlibDecoder::new(data).take(*budget + 1);
    // A stream's data may end with the end-of-line before `endstream`; what zlib read up
    // to its own end is all there is.
    match decoder.read_to_end(&mut inflated) {
        Ok(_) => {}
        Err(_) if !inflated.is_empty() => {}
        Err(_) => return None,
    }
    let used = inflated.len() as u64;
    if used > *budget {
        return None;
    }
    *budget -= used;
    Some(inflated)
}

#[cfg(test)]
mod tests;
