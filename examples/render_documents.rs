//! Writes the three result documents, in Kazakh and in Russian, as PDF and HTML into a
//! directory:
//! the sample data of `kezek::documents::render::samples`, sealed with a fixed test key.
//! `scripts/render-documents` turns them into the PNGs under `docs/documents/`.
//!
//! Usage: `cargo run --example render_documents -- DIR`

use kezek::documents::render::{self, samples, Language, Seal};
use kezek::documents::DocumentSigner;

fn main() {
    let dir = std::env::args_os()
        .nth(1)
        .map(std::path::PathBuf::from)
        .expect("usage: render_documents DIR");
    std::fs::create_dir_all(&dir).expect("the output directory can be made");
    // A fixed key: the renderings do not change from run to run.
    let signer = DocumentSigner::from_seed([42; 32]);
    let key_id = signer.public_key().id;
    for data in [samples::notice(), samples::referral(), samples::refusal()] {
        let seal = Seal {
            base_url: "https://kezek.example.kz".into(),
            signature: signer.sign(&data),
            key_id: key_id.clone(),
        };
        for language in [Language::Kazakh, Language::Russian] {
            let name = format!("{}-{}", data.kind.code(), language.code());
            let pdf = dir.join(format!("{name}.pdf"));
            std::fs::write(&pdf, render::pdf(&data, language, &seal))
                .expect("the PDF can be written");
            // The HTML page too, to look at in a browser (its print preview is the A4 page).
            let html = dir.join(format!("{name}.html"));
            std::fs::write(&html, render::html(&data, language, &seal))
                .expect("the HTML can be written");
            println!("{}", pdf.display());
        }
    }
}
