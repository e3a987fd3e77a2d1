use super::*;

const JPEG: &[u8] = include_bytes!("../../../tests/fixtures/attachments/certificate.jpg");
/// `certificate.jpg` after exiftool wrote GPS positions, a make and a comment into it.
const JPEG_GPS: &[u8] = include_bytes!("../../../tests/fixtures/attachments/gps.jpg");
const PNG: &[u8] = include_bytes!("../../../tests/fixtures/attachments/certificate.png");
/// `certificate.png` with a tEXt comment.
const PNG_TEXT: &[u8] = include_bytes!("../../../tests/fixtures/attachments/gps.png");
const PDF: &[u8] = include_bytes!("../../../tests/fixtures/attachments/certificate.pdf");

fn refusal(bytes: &[u8]) -> AttachmentRefusal {
    accept(bytes).expect_err("refused")
}

/// The markers of a JPEG's segments in order, up to the first scan.
fn jpeg_markers(bytes: &[u8]) -> Vec<u8> {
    let mut markers = Vec::new();
    let mut at = 2;
    while bytes[at] == 0xFF && bytes[at + 1] != 0xDA {
        markers.push(bytes[at + 1]);
        at += 2 + usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
    }
    markers
}

/// The PNG's chunk types in order.
fn png_chunks(bytes: &[u8]) -> Vec<[u8; 4]> {
    let mut chunks = Vec::new();
    let mut at = 8;
    while at < bytes.len() {
        let length = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        chunks.push(bytes[at + 4..at + 8].try_into().unwrap());
        at += 12 + length;
    }
    chunks
}

#[test]
fn the_three_types_are_recognised_from_their_bytes() {
    assert_eq!(accept(JPEG).unwrap().media_type, MediaType::Jpeg);
    assert_eq!(accept(PNG).unwrap().media_type, MediaType::Png);
    let pdf = accept(PDF).unwrap();
    assert_eq!(pdf.media_type, MediaType::Pdf);
    assert_eq!(pdf.bytes, PDF, "a PDF is stored as it came");
}

#[test]
fn an_empty_file_and_other_types_are_refused_with_their_codes() {
    assert_eq!(refusal(b""), AttachmentRefusal::Empty);
    // An executable, whatever its name says.
    let mut exe = b"MZ\x90\x00\x03\x00\x00\x00".to_vec();
    exe.extend_from_slice(&[0; 56]);
    exe.extend_from_slice(b"This program cannot be run in DOS mode.");
    assert_eq!(refusal(&exe), AttachmentRefusal::UnsupportedType);
    assert_eq!(
        refusal(b"GIF89a\x01\x00"),
        AttachmentRefusal::UnsupportedType
    );
    assert_eq!(
        refusal(b"PK\x03\x04zip"),
        AttachmentRefusal::UnsupportedType
    );
    assert_eq!(
        AttachmentRefusal::UnsupportedType.code(),
        "attachment_unsupported_type"
    );
}

#[test]
fn exif_gps_and_comments_leave_a_jpeg_and_the_picture_stays() {
    let markers = jpeg_markers(JPEG_GPS);
    assert!(
        markers.contains(&0xE1),
        "the fixture carries EXIF: {markers:x?}"
    );
    assert!(find(JPEG_GPS, b"Exif\0\0").is_some());
    assert!(find(JPEG_GPS, b"KezekPhone").is_some());

    let cleaned = accept(JPEG_GPS).unwrap().bytes;
    let markers = jpeg_markers(&cleaned);
    assert!(!markers
        .iter()
        .any(|m| (0xE1..=0xEF).contains(m) || *m == 0xFE));
    assert!(find(&cleaned, b"Exif").is_none());
    assert!(find(&cleaned, b"KezekPhone").is_none());
    assert!(find(&cleaned, b"taken at home").is_none());
    // The scan data is untouched: the cleaned file ends as the original does.
    let tail = &JPEG_GPS[JPEG_GPS.len() - 200..];
    assert!(cleaned.ends_with(tail));
    // A clean file cleans to itself but for the JFIF header's thumbnail fields.
    assert_eq!(accept(&cleaned).unwrap().bytes, cleaned);
}

#[test]
fn text_chunks_leave_a_png() {
    let chunks = png_chunks(PNG_TEXT);
    assert!(
        chunks.len() > 3,
        "the fixture carries a text chunk: {chunks:?}"
    );
    let cleaned = accept(PNG_TEXT).unwrap().bytes;
    assert_eq!(png_chunks(&cleaned), vec![*b"IHDR", *b"IDAT", *b"IEND"]);
    assert!(find(&cleaned, b"secret").is_none());
    assert_eq!(cleaned, PNG);
}

#[test]
fn a_truncated_jpeg_or_png_is_refused() {
    for cut in [JPEG.len() - 2, JPEG.len() / 2, 3, 20] {
        assert_eq!(
            refusal(&JPEG[..cut]),
            AttachmentRefusal::Truncated,
            "jpeg cut at {cut}"
        );
    }
    for cut in [PNG.len() - 1, PNG.len() - 12, PNG.len() / 2, 9] {
        assert_eq!(
            refusal(&PNG[..cut]),
            AttachmentRefusal::Truncated,
            "png cut at {cut}"
        );
    }
    let mut damaged = PNG.to_vec();
    damaged[40] ^= 0x55;
    assert_eq!(
        refusal(&damaged),
        AttachmentRefusal::Truncated,
        "a CRC that fails"
    );
}

#[test]
fn bytes_after_an_image_end_make_a_polyglot() {
    let mut jpeg_zip = JPEG.to_vec();
    jpeg_zip.extend_from_slice(b"PK\x03\x04 a zip archive follows");
    assert_eq!(refusal(&jpeg_zip), AttachmentRefusal::Polyglot);
    let mut png_tail = PNG.to_vec();
    png_tail.push(0);
    assert_eq!(refusal(&png_tail), AttachmentRefusal::Polyglot);
}

#[test]
fn a_payload_inside_an_image_makes_a_polyglot() {
    // A PDF in a JPEG comment, right after the start: a PDF reader finds its header there.
    let comment = b"%PDF-1.4 1 0 obj << >> endobj";
    let mut jpeg = JPEG[..2].to_vec();
    jpeg.extend_from_slice(&[0xFF, 0xFE, 0, (comment.len() + 2) as u8]);
    jpeg.extend_from_slice(comment);
    jpeg.extend_from_slice(&JPEG[2..]);
    assert_eq!(refusal(&jpeg), AttachmentRefusal::Polyglot);

    // An executable inside a PNG's private chunk.
    let data = b"MZ This program cannot be run in DOS mode";
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    chunk.extend_from_slice(b"prVt");
    chunk.extend_from_slice(data);
    let crc = crc32fast::hash(&chunk[4..]);
    chunk.extend_from_slice(&crc.to_be_bytes());
    let ihdr_end = 8 + 12 + 13;
    let mut png = PNG[..ihdr_end].to_vec();
    png.extend_from_slice(&chunk);
    png.extend_from_slice(&PNG[ihdr_end..]);
    assert_eq!(refusal(&png), AttachmentRefusal::Polyglot);
}

#[test]
fn a_file_with_a_pdf_header_after_other_bytes_is_a_polyglot() {
    let mut html = b"<html><!-- ".to_vec();
    html.extend_from_slice(PDF);
    assert_eq!(refusal(&html), AttachmentRefusal::Polyglot);
}

#[test]
fn a_pdf_with_a_zip_behind_it_or_after_its_end_is_a_polyglot() {
    let mut after = PDF.to_vec();
    after.extend_from_slice(b"MZ\x90\x00 payload");
    assert_eq!(refusal(&after), AttachmentRefusal::Polyglot);

    let eof = rfind(PDF, b"%%EOF").unwrap();
    let mut zip_inside = PDF[..eof].to_vec();
    zip_inside.extend_from_slice(b"PK\x05\x06\0\0\0\0\n");
    zip_inside.extend_from_slice(&PDF[eof..]);
    assert_eq!(refusal(&zip_inside), AttachmentRefusal::Polyglot);
}

#[test]
fn a_pdf_without_its_end_is_truncated() {
    assert_eq!(refusal(&PDF[..PDF.len() / 2]), AttachmentRefusal::Truncated);
}

fn pdf_with(extra: &[u8]) -> Vec<u8> {
    let eof = rfind(PDF, b"trailer").unwrap();
    let mut pdf = PDF[..eof].to_vec();
    pdf.extend_from_slice(extra);
    pdf.extend_from_slice(&PDF[eof..]);
    pdf
}

#[test]
fn a_pdf_with_javascript_or_a_launch_action_is_refused() {
    for action in [
        &b"9 0 obj << /S /JavaScript /JS (app.alert(1)) >> endobj\n"[..],
        b"9 0 obj << /OpenAction << /S /Launch /F (cmd.exe) >> >> endobj\n",
        b"9 0 obj << /OpenAction << /S /J#61vaScript /J#53 (x) >> >> endobj\n",
        b"9 0 obj << /Names << /EmbeddedFiles 10 0 R >> >> endobj\n",
    ] {
        let text = String::from_utf8_lossy(action).to_string();
        assert_eq!(
            refusal(&pdf_with(action)),
            AttachmentRefusal::PdfScript,
            "{text}"
        );
    }
    // A name that only starts like one is not one.
    assert!(accept(&pdf_with(b"9 0 obj << /JSON (x) /Launcher 1 >> endobj\n")).is_ok());
}

#[test]
fn javascript_inside_a_compressed_object_stream_is_found() {
    use std::io::Write;
    let hidden = b"10 0 << /S /JavaScript /JS (app.alert(1)) >>";
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(hidden).unwrap();
    let compressed = encoder.finish().unwrap();
    let mut object = format!(
        "9 0 obj\n<< /Type /ObjStm /N 1 /First 5 /Filter /FlateDecode /Length {} >>\nstream\n",
        compressed.len()
    )
    .into_bytes();
    object.extend_from_slice(&compressed);
    object.extend_from_slice(b"\nendstream\nendobj\n");
    assert_eq!(refusal(&pdf_with(&object)), AttachmentRefusal::PdfScript);
    // The same stream holding an innocent object passes.
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(b"10 0 << /Type /Font >>").unwrap();
    let innocent = encoder.finish().unwrap();
    let mut object = b"9 0 obj\n<< /Type /ObjStm /Filter /FlateDecode >>\nstream\n".to_vec();
    object.extend_from_slice(&innocent);
    object.extend_from_slice(b"\nendstream\nendobj\n");
    assert!(accept(&pdf_with(&object)).is_ok());
}

#[test]
fn an_encrypted_pdf_is_refused() {
    let eof = rfind(PDF, b"/Root").unwrap();
    let mut pdf = PDF[..eof].to_vec();
    pdf.extend_from_slice(b"/Encrypt 7 0 R ");
    pdf.extend_from_slice(&PDF[eof..]);
    assert_eq!(refusal(&pdf), AttachmentRefusal::PdfEncrypted);
}

#[test]
fn limits_refuse_the_file_too_large_the_one_too_many_and_the_total_passed() {
    let limits = AttachmentLimits {
        file_bytes_max: 100,
        files_max: 3,
        total_bytes_max: 250,
    };
    assert_eq!(limits.admit(0, 0, 100), Ok(()));
    assert_eq!(limits.admit(0, 0, 101), Err(AttachmentRefusal::TooLarge));
    assert_eq!(limits.admit(2, 150, 100), Ok(()));
    assert_eq!(limits.admit(3, 10, 1), Err(AttachmentRefusal::TooMany));
    assert_eq!(
        limits.admit(2, 200, 51),
        Err(AttachmentRefusal::TotalTooLarge)
    );
}

#[test]
fn kinds_parse_from_their_codes_only() {
    for kind in AttachmentKind::ALL {
        assert_eq!(AttachmentKind::parse(kind.code()), Ok(kind));
    }
    assert_eq!(
        AttachmentKind::parse("passport"),
        Err(AttachmentRefusal::KindUnknown)
    );
}
