//! A [`Page`] as one self-contained HTML document: print CSS for A4 inline, the QR code as
//! inline SVG, no script, no external resource. Every text that comes from data goes
//! through [`escape`]; the only unescaped strings are this file's literals.

use super::qr;
use super::texts::{Block, Page, Run};
use std::fmt::Write;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The screen shows the sheet on a grey desk; print gets the bare A4 page, margins by @page.
const STYLE: &str = "\
@page { size: A4; margin: 18mm 18mm 16mm 22mm; }
* { box-sizing: border-box; }
html { font-family: \"DejaVu Sans\", \"Noto Sans\", \"PT Sans\", Arial, sans-serif; font-size: 11pt; line-height: 1.42; color: #111; }
body { margin: 0; background: #e8e8e8; }
.sheet { width: 210mm; min-height: 297mm; margin: 8mm auto; padding: 18mm 18mm 16mm 22mm; background: #fff; box-shadow: 0 1mm 4mm rgba(0,0,0,.25); }
header { text-align: center; border-bottom: 0.6pt solid #333; padding-bottom: 3mm; }
header .district { font-weight: bold; font-size: 12pt; }
header .department { font-size: 10.5pt; }
h1 { text-align: center; font-size: 15pt; margin: 9mm 0 1mm; text-transform: uppercase; letter-spacing: .03em; }
.subtitle { text-align: center; margin: 0; }
.number { text-align: center; font-weight: bold; font-size: 13pt; margin: 2mm 0 6mm; }
p { margin: 0 0 3.5mm; }
table.fields { border-collapse: collapse; width: 100%; margin: 0 0 4mm; }
table.fields th { text-align: left; font-weight: normal; color: #555; font-size: 10pt; width: 36%; padding: 1mm 4mm 1mm 0; vertical-align: top; }
table.fields td { font-weight: bold; padding: 1mm 0; vertical-align: top; overflow-wrap: anywhere; }
.notice { border: 0.8pt solid #333; padding: 2.5mm 3.5mm; margin: 1mm 0 4mm; }
.officer { margin-top: 6mm; }
.officer .label { color: #555; font-size: 10pt; }
footer { margin-top: 14mm; padding-top: 4mm; border-top: 0.6pt solid #333; font-size: 8.5pt; break-inside: avoid; page-break-inside: avoid; }
footer table { border-collapse: collapse; width: 100%; }
footer td { vertical-align: top; padding: 0; }
footer td.code { width: 33mm; padding-right: 5mm; }
footer svg { display: block; }
footer .link { font-size: 7pt; overflow-wrap: anywhere; word-break: break-all; color: #111; }
footer .footnote { color: #555; font-size: 7pt; margin-top: 2mm; }
footer p { margin: 0 0 1.2mm; }
@media print {
  body { background: none; }
  .sheet { width: auto; min-height: 0; margin: 0; padding: 0; box-shadow: none; }
  a { color: inherit; text-decoration: none; }
}
";

fn runs(out: &mut String, runs: &[Run]) {
    for run in runs {
        // "№" never ends a line: a no-break space ties it to its number.
        let text = escape(&run.text)
            .replace('\n', "<br>")
            .replace("№ ", "№&nbsp;");
        if run.strong {
            let _ = write!(out, "<strong>{text}</strong>");
        } else {
            out.push_str(&text);
        }
    }
}

fn blocks(out: &mut String, page: &Page) {
    for block in &page.blocks {
        match block {
            Block::Paragraph(content) => {
                out.push_str("<p>");
                runs(out, content);
                out.push_str("</p>\n");
            }
            Block::Notice(content) => {
                out.push_str("<p class=\"notice\">");
                runs(out, content);
                out.push_str("</p>\n");
            }
            Block::Fields(fields) => {
                out.push_str("<table class=\"fields\">\n");
                for (label, value) in fields {
                    let _ = writeln!(
                        out,
                        "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
                        escape(label),
                        escape(value)
                    );
                }
                out.push_str("</table>\n");
            }
        }
    }
}

pub fn render(page: &Page) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex\">\n<title>{title} {number}</title>\n\
         <style>\n{STYLE}</style>\n</head>\n<body>\n<main class=\"sheet\">\n\
         <header><div class=\"district\">{district}</div><div class=\"department\">{department}</div></header>\n\
         <h1>{title}</h1>\n",
        lang = page.language.code(),
        title = escape(&page.title),
        number = escape(&page.number),
        district = escape(&page.issuer[0]),
        department = escape(&page.issuer[1]),
    );
    if let Some(subtitle) = &page.subtitle {
        let _ = writeln!(out, "<p class=\"subtitle\">{}</p>", escape(subtitle));
    }
    let _ = writeln!(out, "<p class=\"number\">{}</p>", escape(&page.number));
    blocks(&mut out, page);
    let _ = writeln!(
        out,
        "<p class=\"officer\"><span class=\"label\">{}:</span> <strong>{}</strong></p>",
        escape(&page.officer.0),
        escape(&page.officer.1)
    );
    let check = &page.check;
    let code = qr::encode(&check.link).svg("32mm", "QR");
    let _ = write!(
        out,
        "<footer>\n<table><tr><td class=\"code\">{code}</td><td>\n<p>{prompt}</p>\n\
         <p class=\"link\"><a href=\"{link}\">{link}</a></p>\n\
         <p>{document}<br>{key}</p>\n</td></tr></table>\n\
         <p class=\"footnote\">{footnote}</p>\n</footer>\n</main>\n</body>\n</html>\n",
        prompt = escape(&check.prompt),
        link = escape(&check.link),
        document = escape(&check.document),
        key = escape(&check.key),
        footnote = escape(&check.footnote),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::render::{samples, texts, Language, Seal};

    fn seal() -> Seal {
        Seal {
            base_url: "http://localhost:8080".into(),
            signature: "AbC-_9".into(),
            key_id: "0123456789abcdef".into(),
        }
    }

    #[test]
    fn every_text_from_data_is_escaped() {
        let mut data = samples::refusal();
        data.child_full_name = "<script>alert('x')</script> & \"Ли\"".into();
        data.refusal_text = Some("<img src=x onerror=alert(1)>".into());
        let page = render(&texts::compose(&data, Language::Russian, &seal()));
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains("<img"), "{page}");
        assert!(
            page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;Ли&quot;")
        );
        // The link's `&` is escaped in the attribute and the text alike.
        assert!(page.contains("href=\"http://localhost:8080/api/v1/documents/refusal-ESL-17/verify?v=0&amp;sig=AbC-_9\""));
    }

    #[test]
    fn the_page_is_self_contained() {
        for data in [samples::notice(), samples::referral(), samples::refusal()] {
            for language in [Language::Kazakh, Language::Russian] {
                let page = render(&texts::compose(&data, language, &seal()));
                assert!(page.contains("@page { size: A4"));
                assert!(page.contains(&format!("<html lang=\"{}\">", language.code())));
                assert!(!page.contains("<script"));
                assert!(!page.contains("src="));
                assert!(!page.contains("@import"));
                assert!(!page.contains("url("));
                assert!(page.contains("<svg"));
            }
        }
    }
}
