//! The wording of the three documents in Kazakh and Russian, after the regulations' forms
//! (the registration notice, "Баланы тіркеу туралы хабарлама"; the referral, "Жолдама" /
//! "Направление"; the motivated refusal), composed into a [`Page`] that both renderers draw.
//!
//! Only signed data is printed, plus how to check it. So the access code is never printed
//! (it is not stored): the notice refers to "the access code given at registration". And
//! the regulations' sentence that the document equals a paper one under the law on
//! electronic signatures is left out: our Ed25519 seal is not a qualified signature under
//! that law; the footnote says what the code holds instead, as the forms' footnote does.

use super::{Language, Seal};
use crate::domain::application::RefusalReason;
use crate::domain::deadline;
use crate::domain::document::{DocumentData, DocumentKind};
use chrono::{DateTime, NaiveDate, Utc};

/// A stretch of text in one style.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub text: String,
    pub strong: bool,
}

fn plain(text: impl Into<String>) -> Run {
    Run {
        text: text.into(),
        strong: false,
    }
}

fn strong(text: impl Into<String>) -> Run {
    Run {
        text: text.into(),
        strong: true,
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Block {
    /// A paragraph of runs; a `\n` in a run starts a new line.
    Paragraph(Vec<Run>),
    /// Labelled values, label on the left, value (strong) on the right.
    Fields(Vec<(String, String)>),
    /// A paragraph set off in a frame: what the holder must not miss.
    Notice(Vec<Run>),
}

/// How to check the page: printed at its foot beside the QR code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// What the QR code holds and the page prints in small type.
    pub link: String,
    pub prompt: String,
    /// The document's id and version.
    pub document: String,
    /// The signing key's id.
    pub key: String,
    pub footnote: String,
}

/// One document in one language, as printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub language: Language,
    /// The issuing body, the page's heading: the district and its education department.
    pub issuer: [String; 2],
    pub title: String,
    pub subtitle: Option<String>,
    pub number: String,
    pub blocks: Vec<Block>,
    /// Who issued it, label and name.
    pub officer: (String, String),
    pub check: Check,
}

/// DD.MM.YYYY.
pub fn date(day: NaiveDate) -> String {
    day.format("%d.%m.%Y").to_string()
}

/// The local (UTC+5) day of an instant, DD.MM.YYYY.
pub fn local_day(instant: DateTime<Utc>) -> String {
    date(crate::domain::local_date(instant))
}

/// "to the end of Friday 27.11.2026", in the document's language: the last day a referral
/// may be handed in, never the midnight `valid_until` is.
pub fn until_end_of(valid_until: DateTime<Utc>, language: Language) -> String {
    let words = deadline::until_end_of(deadline::last_day(valid_until));
    match language {
        Language::Kazakh => words.kk,
        Language::Russian => words.ru,
    }
}

/// The body that issues the documents of a district, named as its heading prints it.
struct Issuer {
    /// As the subject of a sentence.
    name: String,
    heading: [String; 2],
}

fn issuer(data: &DocumentData, language: Language) -> Issuer {
    match language {
        // "Есіл ауданы білім бөлімі": the official names' form, with no case ending to get
        // wrong whatever the district is called.
        Language::Kazakh => Issuer {
            name: format!("{} білім бөлімі", data.issuer.name_kk),
            heading: [data.issuer.name_kk.clone(), "Білім бөлімі".into()],
        },
        Language::Russian => {
            // "район Есиль" takes the genitive by its first word; any other name is quoted
            // after the department rather than declined by guesswork.
            let name = match data.issuer.name_ru.strip_prefix("район ") {
                Some(rest) => format!("Отдел образования района {rest}"),
                None => format!("Отдел образования ({})", data.issuer.name_ru),
            };
            Issuer {
                name,
                heading: [data.issuer.name_ru.clone(), "Отдел образования".into()],
            }
        }
    }
}

/// The page for `data` in `language`.
pub fn compose(data: &DocumentData, language: Language, seal: &Seal) -> Page {
    let issuer = issuer(data, language);
    let (title, subtitle, number, blocks) = match data.kind {
        DocumentKind::Notice => notice(data, language, seal),
        DocumentKind::Referral => referral(data, language, &issuer),
        DocumentKind::Refusal => refusal(data, language, &issuer),
    };
    Page {
        language,
        issuer: issuer.heading.clone(),
        title,
        subtitle,
        number,
        blocks,
        officer: officer(data, language, &issuer),
        check: check(data, language, seal),
    }
}

type Body = (String, Option<String>, String, Vec<Block>);

fn child_fields(data: &DocumentData, language: Language) -> Vec<(String, String)> {
    let (name, birth) = match language {
        Language::Kazakh => ("Баланың тегі, аты, әкесінің аты", "Туған күні"),
        Language::Russian => ("Фамилия, имя, отчество ребёнка", "Дата рождения"),
    };
    vec![
        (name.into(), data.child_full_name.clone()),
        (birth.into(), date(data.child_birth_date)),
    ]
}

fn notice(data: &DocumentData, language: Language, seal: &Seal) -> Body {
    let day = local_day(data.registered_at);
    let number = format!("№ {}", data.application);
    let site = format!("{}/", seal.base_url.trim_end_matches('/'));
    let mut fields = child_fields(data, language);
    match language {
        Language::Kazakh => {
            fields.push(("Өтініш нөмірі".into(), data.application.clone()));
            fields.push(("Тіркелген күні".into(), day.clone()));
            let entered = vec![
                plain("Бала мектепке дейінгі ұйымға жіберу үшін мектепке дейінгі жастағы балаларды тіркеу журналына "),
                strong(format!("{day} ж.")),
                plain(" "),
                strong(number.clone()),
                plain(" нөмірімен кезекке қойылды."),
            ];
            let follow = vec![
                plain("Кезектің жылжуын "),
                strong(site),
                plain(" сайтында өтініш нөмірі мен тіркеу кезінде берілген қолжетімділік коды бойынша бақылауға болады. Мектепке дейінгі ұйымда орын босағанда жолдама беріледі."),
            ];
            (
                "Баланы тіркеу туралы хабарлама".into(),
                Some("(тіркеу талоны)".into()),
                number,
                vec![
                    issued_to(data, language),
                    Block::Fields(fields),
                    Block::Paragraph(entered),
                    Block::Paragraph(follow),
                ],
            )
        }
        Language::Russian => {
            fields.push(("Номер заявления".into(), data.application.clone()));
            fields.push(("Дата регистрации".into(), day.clone()));
            let entered = vec![
                plain("Ребёнок поставлен в очередь в журнале регистрации детей дошкольного возраста для направления в дошкольные организации "),
                strong(day),
                plain(" под номером "),
                strong(number.clone()),
                plain("."),
            ];
            let follow = vec![
                plain("Следить за продвижением очереди можно на сайте "),
                strong(site),
                plain(" по номеру заявления и коду доступа, выданному при регистрации. Когда в дошкольной организации освободится место, будет выдано направление."),
            ];
            (
                "Уведомление о регистрации ребёнка".into(),
                Some("(регистрационный талон)".into()),
                number,
                vec![
                    issued_to(data, language),
                    Block::Fields(fields),
                    Block::Paragraph(entered),
                    Block::Paragraph(follow),
                ],
            )
        }
    }
}

/// Seed 000's notice: "this notice was issued to … (parent's full name)". The name is set
/// first and the role after it, so no case ending has to be guessed.
fn issued_to(data: &DocumentData, language: Language) -> Block {
    let name = data.applicant_full_name.clone().unwrap_or_default();
    let (before, role) = match language {
        Language::Kazakh => (
            "Осы хабарлама берілді: ",
            " (ата-ананың немесе заңды өкілдің аты-жөні)",
        ),
        Language::Russian => (
            "Настоящее уведомление выдано: ",
            " (Ф. И. О. родителя или законного представителя)",
        ),
    };
    Block::Paragraph(vec![plain(before), strong(name), plain(role)])
}

/// Seed 000's referral: the head of the education department's name and signature line.
/// Without a head set, a blank for the name to be written in.
fn head_signature(data: &DocumentData, language: Language) -> Block {
    let name = data
        .education_head
        .clone()
        .unwrap_or_else(|| "______________________________".into());
    let (role, signature) = match language {
        Language::Kazakh => ("Білім бөлімінің басшысы: ", "(қолы)"),
        Language::Russian => ("Руководитель отдела образования: ", "(подпись)"),
    };
    Block::Paragraph(vec![
        plain(role),
        strong(name),
        plain(format!("\n______________________________ {signature}")),
    ])
}

fn referral(data: &DocumentData, language: Language, issuer: &Issuer) -> Body {
    let number = format!(
        "№ {}",
        data.referral.as_deref().unwrap_or(&data.application)
    );
    let deadline = data
        .valid_until
        .map(|end| until_end_of(end, language))
        .unwrap_or_default();
    let kindergarten = data.kindergarten.as_ref();
    let kindergarten_number = kindergarten.map_or_else(String::new, |k| k.number.clone());
    let address = kindergarten.map_or_else(String::new, |k| k.address.clone());
    let home = data.home_address.clone().unwrap_or_default();
    let issued = local_day(data.issued_at);
    match language {
        Language::Kazakh => {
            let name = kindergarten.map_or_else(String::new, |k| k.name_kk.clone());
            let mut child = child_fields(data, language);
            child.push(("Баланың үйінің мекенжайы".into(), home));
            child.push(("Өтініш нөмірі".into(), data.application.clone()));
            child.push(("Жолдама берілген күн".into(), issued));
            let mut blocks = vec![
                Block::Paragraph(vec![plain(format!(
                    "{} баланы төменде көрсетілген мектепке дейінгі ұйымға қабылдау үшін жолдама береді.",
                    issuer.name
                ))]),
                Block::Fields(vec![
                    ("Мектепке дейінгі ұйымның нөмірі".into(), kindergarten_number),
                    ("Атауы".into(), name),
                    ("Мекенжайы".into(), address),
                ]),
                Block::Fields(child),
                Block::Notice(vec![
                    plain("Жолдама мектепке дейінгі ұйымға "),
                    strong(deadline),
                    plain(" тапсырылуы тиіс. Осы мерзімде тапсырылмаған жолдаманың күші жойылады."),
                ]),
            ];
            if data.version > 0 {
                blocks.push(Block::Paragraph(vec![plain(
                    "Жолдаманың мерзімі ата-ананың өтініші бойынша ұзартылды; бұрын берілген нұсқасының күші жойылды.",
                )]));
            }
            blocks.push(head_signature(data, language));
            (
                "Жолдама".into(),
                Some("баланы мектепке дейінгі ұйымға қабылдау үшін".into()),
                number,
                blocks,
            )
        }
        Language::Russian => {
            let name = kindergarten.map_or_else(String::new, |k| k.name_ru.clone());
            let mut child = child_fields(data, language);
            child.push(("Домашний адрес ребёнка".into(), home));
            child.push(("Номер заявления".into(), data.application.clone()));
            child.push(("Дата выдачи направления".into(), issued));
            let mut blocks = vec![
                Block::Paragraph(vec![plain(format!(
                    "{} выдаёт направление для приёма ребёнка в указанную ниже дошкольную организацию.",
                    issuer.name
                ))]),
                Block::Fields(vec![
                    ("Номер дошкольной организации".into(), kindergarten_number),
                    ("Наименование".into(), name),
                    ("Адрес".into(), address),
                ]),
                Block::Fields(child),
                Block::Notice(vec![
                    plain("Направление необходимо сдать в дошкольную организацию "),
                    strong(deadline),
                    plain(". Не сданное в срок направление утрачивает силу."),
                ]),
            ];
            if data.version > 0 {
                blocks.push(Block::Paragraph(vec![plain(
                    "Срок направления продлён по заявлению родителя; ранее выданный экземпляр утратил силу.",
                )]));
            }
            blocks.push(head_signature(data, language));
            (
                "Направление".into(),
                Some("для приёма ребёнка в дошкольную организацию".into()),
                number,
                blocks,
            )
        }
    }
}

/// The reason code's wording, after the grounds for refusal of the service's standard.
pub fn reason(reason: RefusalReason, language: Language) -> &'static str {
    match (reason, language) {
        (RefusalReason::DocumentsIncomplete, Language::Kazakh) => {
            "Мемлекеттік қызмет көрсету үшін қажетті құжаттар толық ұсынылмаған."
        }
        (RefusalReason::DocumentsIncomplete, Language::Russian) => {
            "Представлен неполный пакет документов, необходимых для оказания государственной услуги."
        }
        (RefusalReason::DataUnreliable, Language::Kazakh) => {
            "Ұсынылған құжаттардың және (немесе) олардағы деректердің (мәліметтердің) анық еместігі анықталды."
        }
        (RefusalReason::DataUnreliable, Language::Russian) => {
            "Установлена недостоверность представленных документов и (или) данных (сведений), содержащихся в них."
        }
        (RefusalReason::RequirementsNotMet, Language::Kazakh) => {
            "Көрсетілетін қызметті алушы және (немесе) бала мемлекеттік қызмет көрсету үшін қойылатын талаптарға сәйкес келмейді."
        }
        (RefusalReason::RequirementsNotMet, Language::Russian) => {
            "Несоответствие услугополучателя и (или) ребёнка требованиям, необходимым для оказания государственной услуги."
        }
        (RefusalReason::LegalBar, Language::Kazakh) => {
            "Заңды күшіне енген сот шешімі (үкімі) немесе заңда көзделген өзге де негіз бар."
        }
        (RefusalReason::LegalBar, Language::Russian) => {
            "Имеется вступившее в законную силу решение (приговор) суда либо иное основание, предусмотренное законом."
        }
    }
}

fn refusal(data: &DocumentData, language: Language, issuer: &Issuer) -> Body {
    let number = format!("№ {}", data.application);
    let why = data
        .refusal_reason
        .map_or("", |code| reason(code, language))
        .to_string();
    let motivation = data.refusal_text.clone().unwrap_or_default();
    let mut fields = child_fields(data, language);
    match language {
        Language::Kazakh => {
            fields.push(("Өтініш нөмірі".into(), data.application.clone()));
            fields.push(("Тіркелген күні".into(), local_day(data.registered_at)));
            fields.push(("Шешім қабылданған күн".into(), local_day(data.issued_at)));
            (
                "Мемлекеттік қызмет көрсетуден бас тарту туралы дәлелді жауап".into(),
                None,
                number.clone(),
                vec![
                    Block::Paragraph(vec![
                        plain(format!("{} ", issuer.name)),
                        strong(number),
                        plain(" өтініш бойынша «Мектепке дейінгі балалар ұйымдарына жіберу үшін мектепке дейінгі (7 жасқа дейін) жастағы балаларды кезекке қою» мемлекеттік қызметін көрсетуден бас тартады."),
                    ]),
                    Block::Fields(fields),
                    Block::Paragraph(vec![strong("Бас тарту негізі: "), plain(why)]),
                    Block::Paragraph(vec![strong("Дәлелдеме:\n"), plain(motivation)]),
                    Block::Paragraph(vec![plain(
                        "Шешімге Қазақстан Республикасының заңнамасында белгіленген тәртіппен шағым жасалуы мүмкін. Бас тарту себебі жойылғаннан кейін өтінішті қайта беруге болады.",
                    )]),
                ],
            )
        }
        Language::Russian => {
            fields.push(("Номер заявления".into(), data.application.clone()));
            fields.push(("Дата регистрации".into(), local_day(data.registered_at)));
            fields.push(("Дата решения".into(), local_day(data.issued_at)));
            (
                "Мотивированный ответ об отказе в оказании государственной услуги".into(),
                None,
                number.clone(),
                vec![
                    Block::Paragraph(vec![
                        plain(format!("{} отказывает в оказании государственной услуги «Регистрация детей дошкольного возраста (до 7 лет) для направления в детские дошкольные организации» по заявлению ", issuer.name)),
                        strong(number),
                        plain("."),
                    ]),
                    Block::Fields(fields),
                    Block::Paragraph(vec![strong("Основание отказа: "), plain(why)]),
                    Block::Paragraph(vec![strong("Мотивировка:\n"), plain(motivation)]),
                    Block::Paragraph(vec![plain(
                        "Решение может быть обжаловано в порядке, установленном законодательством Республики Казахстан. После устранения причины отказа заявление можно подать повторно.",
                    )]),
                ],
            )
        }
    }
}

fn officer(data: &DocumentData, language: Language, issuer: &Issuer) -> (String, String) {
    let system = data.officer == "system";
    let label = match (data.kind, system, language) {
        (DocumentKind::Referral, _, Language::Kazakh) => "Жолдаманы берген",
        (DocumentKind::Referral, _, Language::Russian) => "Направление выдал",
        (_, true, Language::Kazakh) => "Құжатты берген",
        (_, true, Language::Russian) => "Документ выдал",
        (_, false, Language::Kazakh) => "Білім бөлімінің маманы",
        (_, false, Language::Russian) => "Специалист отдела образования",
    };
    // "system": the queue decided by its rules, on the department's behalf.
    let name = match (data.officer.as_str(), language) {
        ("system", Language::Kazakh) => {
            format!("{}, кезектің ақпараттық жүйесі арқылы", issuer.name)
        }
        ("system", Language::Russian) => {
            format!("{}, через информационную систему очереди", issuer.name)
        }
        (name, _) => name.to_string(),
    };
    (label.into(), name)
}

fn check(data: &DocumentData, language: Language, seal: &Seal) -> Check {
    let keys = format!("{}/api/v1/keys", seal.base_url.trim_end_matches('/'));
    match language {
        Language::Kazakh => Check {
            link: seal.link(data),
            prompt: "Құжаттың түпнұсқалығын және күшін тексеру үшін QR-кодты сканерлеңіз немесе сілтемені ашыңыз:".into(),
            document: format!("Құжат: {}, нұсқа {}", data.id, data.version + 1),
            key: format!("Қолтаңба кілті: Ed25519 {}", seal.key_id),
            footnote: format!("*QR-кодта құжатты берген орган электрондық қолтаңбамен қол қойған деректерді тексеруге арналған сілтеме бар. Ашық кілт: {keys}"),
        },
        Language::Russian => Check {
            link: seal.link(data),
            prompt: "Для проверки подлинности и действительности документа отсканируйте QR-код или откройте ссылку:".into(),
            document: format!("Документ: {}, версия {}", data.id, data.version + 1),
            key: format!("Ключ подписи: Ed25519 {}", seal.key_id),
            footnote: format!("*QR-код содержит ссылку для проверки данных документа, подписанных электронной подписью выдавшего его органа. Открытый ключ: {keys}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::render::samples;

    fn seal() -> Seal {
        Seal {
            base_url: "https://kezek.example.kz/".into(),
            signature: "c2ln".into(),
            key_id: "0123456789abcdef".into(),
        }
    }

    fn text(page: &Page) -> String {
        let mut all = vec![page.title.clone(), page.number.clone()];
        for block in &page.blocks {
            match block {
                Block::Paragraph(runs) | Block::Notice(runs) => {
                    all.push(runs.iter().map(|r| r.text.as_str()).collect());
                }
                Block::Fields(fields) => {
                    all.extend(fields.iter().flat_map(|(l, v)| [l.clone(), v.clone()]));
                }
            }
        }
        all.join(" ")
    }

    #[test]
    fn the_referral_is_due_to_the_end_of_its_last_local_day_named_with_its_weekday() {
        // valid_until is the end of 27.11 local time: 27.11 19:00 UTC is 28.11 00:00 UTC+5.
        let page = compose(&samples::referral(), Language::Russian, &seal());
        assert!(text(&page).contains("сдать в дошкольную организацию до конца пятницы 27.11.2026."));
        let page = compose(&samples::referral(), Language::Kazakh, &seal());
        assert!(text(&page).contains("27.11.2026 (жұма) күнінің соңына дейін тапсырылуы тиіс"));
        for language in [Language::Kazakh, Language::Russian] {
            let page = compose(&samples::referral(), language, &seal());
            assert!(
                !text(&page).contains("28.11.2026"),
                "never the next day's midnight"
            );
        }
    }

    #[test]
    fn the_notice_states_number_and_day_and_never_an_access_code() {
        for language in [Language::Kazakh, Language::Russian] {
            let page = compose(&samples::notice(), language, &seal());
            let all = text(&page);
            assert!(all.contains("№ ESL-17"), "{all}");
            assert!(all.contains("20.11.2026"), "{all}");
            assert!(all.contains("https://kezek.example.kz/ "), "{all}");
            assert!(all.contains("Әбіғұлұлы Қаңөһүр"));
            assert!(all.contains("15.03.2022"));
        }
        assert_eq!(
            seal().link(&samples::notice()),
            "https://kezek.example.kz/api/v1/documents/notice-ESL-17/verify?v=0&sig=c2ln"
        );
    }

    #[test]
    fn the_notice_names_the_applicant_it_was_issued_to() {
        let page = compose(&samples::notice(), Language::Kazakh, &seal());
        assert!(text(&page).contains(
            "Осы хабарлама берілді: Сейітова Айгүл Маратқызы (ата-ананың немесе заңды өкілдің аты-жөні)"
        ));
        let page = compose(&samples::notice(), Language::Russian, &seal());
        assert!(text(&page).contains("Настоящее уведомление выдано: Сейітова Айгүл Маратқызы"));
    }

    #[test]
    fn the_referral_names_the_head_with_a_signature_line_or_leaves_a_blank() {
        let page = compose(&samples::referral(), Language::Russian, &seal());
        let all = text(&page);
        assert!(all.contains("Руководитель отдела образования: Жұмабеков Ерлан Асқарұлы"));
        assert!(
            all.contains("______________________________ (подпись)"),
            "{all}"
        );
        let page = compose(&samples::referral(), Language::Kazakh, &seal());
        assert!(text(&page).contains("Білім бөлімінің басшысы: Жұмабеков Ерлан Асқарұлы"));
        let mut unnamed = samples::referral();
        unnamed.education_head = None;
        let all = text(&compose(&unnamed, Language::Kazakh, &seal()));
        assert!(
            all.contains("басшысы: ______________________________"),
            "{all}"
        );
    }

    #[test]
    fn every_refusal_reason_has_its_wording_in_both_languages() {
        for code in RefusalReason::ALL {
            let mut data = samples::refusal();
            data.refusal_reason = Some(code);
            for language in [Language::Kazakh, Language::Russian] {
                let all = text(&compose(&data, language, &seal()));
                assert!(all.contains(reason(code, language)));
                assert!(all.contains("многодетной семьи, не представлена."));
            }
        }
        let kazakh = reason(RefusalReason::LegalBar, Language::Kazakh);
        assert_ne!(kazakh, reason(RefusalReason::LegalBar, Language::Russian));
    }

    #[test]
    fn the_issuer_is_named_without_guessing_declensions() {
        let page = compose(&samples::referral(), Language::Russian, &seal());
        assert!(text(&page).starts_with("Направление"));
        assert!(text(&page).contains("Отдел образования района Есиль выдаёт"));
        let mut other = samples::referral();
        other.issuer.name_ru = "Алматинский район".into();
        let page = compose(&other, Language::Russian, &seal());
        assert!(text(&page).contains("Отдел образования (Алматинский район) выдаёт"));
        let page = compose(&samples::referral(), Language::Kazakh, &seal());
        assert!(text(&page).contains("Есіл ауданы білім бөлімі баланы"));
    }
}
