//! What the messages say, in Kazakh and in Russian, in one message: the parent reads the
//! language they prefer without the service having to know it. Pure functions of their
//! inputs; dates and times are local (UTC+5), as on every document of the service.
//!
//! No names, IINs or addresses of people: a message names the application and the referral
//! by their numbers, which the parent knows, and the kindergarten by its number, name and
//! address, which are public.

use crate::domain::attachment::AttachmentKind;
use crate::domain::{deadline, local_offset};
use chrono::{DateTime, Datelike, Timelike, Utc};

/// The display name in every message's `From:`, so that a parent's mail program shows who
/// writes (the service, in both languages) rather than a bare no-reply address.
pub const SENDER_NAME: &str = "Балабақша кезегі / Очередь в детский сад";

/// A message's subject and body, as stored in the outbox (empty for a message written when due).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Texts {
    pub subject: String,
    pub body: String,
}

/// The kindergarten a referral is for, as the catalog names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindergartenNames {
    pub number: String,
    pub name_kk: String,
    pub name_ru: String,
    pub address: String,
}

/// A change of an application's status other than registration, issue and expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The referral was handed in: the child is enrolled.
    Enrolled {
        referral: String,
    },
    Withdrawn,
    /// A motivated refusal. Its text stays on the refusal document, not in an e-mail.
    Refused,
    AgedOut,
    /// The referral was declined; back in the queue, on the stop list until then.
    Declined {
        referral: String,
        held_until: DateTime<Utc>,
    },
    /// The referral was revoked by staff; back in the queue, on the stop list until then.
    Revoked {
        referral: String,
        held_until: DateTime<Utc>,
        priority_unconfirmed: bool,
    },
}

// Formatted by hand, not with chrono's `format`: every registration renders a date inside
// the writer's transaction, and parsing a format string each time costs more than the rest.

/// "20.11.2026 09:00", local time.
pub fn local_date_time(instant: DateTime<Utc>) -> String {
    let local = instant.with_timezone(&local_offset());
    format!(
        "{:02}.{:02}.{} {:02}:{:02}",
        local.day(),
        local.month(),
        local.year(),
        local.hour(),
        local.minute()
    )
}

/// The last local day before `end` (an end of day is the next local midnight):
/// "27.11.2026".
pub fn last_day(end: DateTime<Utc>) -> String {
    deadline::last_day(end).format("%d.%m.%Y").to_string()
}

const FOOTER: &str = "Бұл хабарлама автоматты түрде жіберілді; оған жауап берудің қажеті жоқ.\n\
                      Это сообщение отправлено автоматически; отвечать на него не нужно.";

fn bilingual(subject_kk: String, subject_ru: String, kk: String, ru: String) -> Texts {
    Texts {
        subject: format!("{subject_kk} / {subject_ru}"),
        body: format!("{kk}\n\n{ru}\n\n--\n{FOOTER}\n"),
    }
}

/// The registration notice: the number and the time it was entered under.
pub fn registered(application: &str, registered_at: DateTime<Utc>) -> Texts {
    let at = local_date_time(registered_at);
    bilingual(
        format!("Өтініш № {application} тіркелді"),
        format!("Заявление № {application} зарегистрировано"),
        format!(
            "Балаңыз мектепке дейінгі ұйымға орналастыру кезегіне {at} тіркелді, өтініш \
             нөмірі № {application}. Кезектегі орнын порталда өтініш нөмірі мен қолжетімділік \
             коды бойынша онлайн бақылай аласыз."
        ),
        format!(
            "Ваш ребёнок поставлен в очередь на место в дошкольной организации {at}, номер \
             заявления № {application}. Следить за очередью можно онлайн на портале по номеру \
             заявления и коду доступа."
        ),
    )
}

/// A referral was issued: where to, and by when it must be handed in.
pub fn referral_issued(
    referral: &str,
    application: &str,
    kindergarten: &KindergartenNames,
    valid_until: DateTime<Utc>,
) -> Texts {
    let until = deadline::until_end_of(deadline::last_day(valid_until));
    let (until_kk, until_ru) = (until.kk, until.ru);
    let k = kindergarten;
    bilingual(
        format!("Жолдама № {referral} берілді"),
        format!("Выдано направление № {referral}"),
        format!(
            "Өтініш № {application} бойынша № {} «{}» балабақшасына (мекенжайы: {}) № {referral} \
             жолдама берілді. Жолдаманы балабақшаға {until_kk} тапсыру қажет; әйтпесе \
             ол күшін жояды.",
            k.number, k.name_kk, k.address
        ),
        format!(
            "По заявлению № {application} выдано направление № {referral} в детский сад № {} \
             «{}» (адрес: {}). Направление нужно сдать в детский сад {until_ru}; \
             иначе оно утратит силу.",
            k.number, k.name_ru, k.address
        ),
    )
}

/// The reminder a day before a referral lapses.
pub fn referral_expiring(
    referral: &str,
    kindergarten: &KindergartenNames,
    valid_until: DateTime<Utc>,
) -> Texts {
    let day = last_day(valid_until);
    let until = deadline::until_end_of(deadline::last_day(valid_until));
    let (until_kk, until_ru) = (until.kk, until.ru);
    let k = kindergarten;
    bilingual(
        format!("Жолдама № {referral}: мерзімінің бітуіне бір күн қалды"),
        format!("Направление № {referral}: остался один день"),
        format!(
            "Еске саламыз: № {referral} жолдаманың мерзімі {day} күні аяқталады. Оны № {} «{}» \
             балабақшасына ({}) {until_kk} тапсырыңыз; әйтпесе жолдама күшін жояды және \
             бала уақытша тоқтату тізіміне енгізіледі.",
            k.number, k.name_kk, k.address
        ),
        format!(
            "Напоминаем: срок направления № {referral} истекает {day}. Сдайте его в детский сад \
             № {} «{}» ({}) {until_ru}; иначе направление утратит силу, а ребёнок \
             временно попадёт в стоп-лист.",
            k.number, k.name_ru, k.address
        ),
    )
}

/// A referral lapsed unused: the child is back in the queue, on the stop list for a while.
pub fn referral_expired(referral: &str, application: &str, held_until: DateTime<Utc>) -> Texts {
    let until = local_date_time(held_until);
    bilingual(
        format!("Жолдама № {referral} мерзімі өтті"),
        format!("Срок направления № {referral} истёк"),
        format!(
            "№ {referral} жолдама мерзімінде тапсырылмады және күшін жойды. Бала кезекке өз \
             орнымен қайтарылды (өтініш № {application}), бірақ {until} дейін тоқтату тізімінде \
             тұрады: бұл уақытта оған жолдама берілмейді."
        ),
        format!(
            "Направление № {referral} не было сдано в срок и утратило силу. Ребёнок возвращён \
             в очередь на своё место (заявление № {application}), но до {until} находится в \
             стоп-листе: в это время направление ему не выдаётся."
        ),
    )
}

/// Any other change of the application's status.
pub fn status_changed(application: &str, change: &Change) -> Texts {
    let (kk, ru) = match change {
        Change::Enrolled { referral } => (
            format!(
                "№ {referral} жолдама балабақшаға тапсырылды: бала балабақшаға қабылданды. \
                 Өтініш № {application} орындалды және кезектен шығарылды."
            ),
            format!(
                "Направление № {referral} сдано в детский сад: ребёнок зачислен. Заявление \
                 № {application} исполнено и снято с очереди."
            ),
        ),
        Change::Withdrawn => (
            format!("Өтініш № {application} кері қайтарып алынды және кезектен шығарылды."),
            format!("Заявление № {application} отозвано и снято с очереди."),
        ),
        Change::Refused => (
            format!(
                "Өтініш № {application} бойынша дәлелді бас тарту шешімі шығарылды; өтініш \
                 кезектен шығарылды. Бас тарту құжаты оның негіздемесімен порталда қолжетімді."
            ),
            format!(
                "По заявлению № {application} принят мотивированный отказ; заявление снято с \
                 очереди. Документ об отказе с его обоснованием доступен на портале."
            ),
        ),
        Change::AgedOut => (
            format!(
                "Өтініш № {application} бойынша бала мектеп жасына толды; өтініш кезектен \
                 шығарылды."
            ),
            format!(
                "Ребёнок по заявлению № {application} достиг школьного возраста; заявление \
                 снято с очереди."
            ),
        ),
        Change::Declined {
            referral,
            held_until,
        } => {
            let until = local_date_time(*held_until);
            (
                format!(
                    "№ {referral} жолдамадан бас тартылды. Бала кезекке өз орнымен қайтарылды \
                     (өтініш № {application}), бірақ {until} дейін тоқтату тізімінде тұрады."
                ),
                format!(
                    "От направления № {referral} отказались. Ребёнок возвращён в очередь на \
                     своё место (заявление № {application}), но до {until} находится в \
                     стоп-листе."
                ),
            )
        }
        Change::Revoked {
            referral,
            held_until,
            priority_unconfirmed,
        } => {
            let until = local_date_time(*held_until);
            let (tier_kk, tier_ru) = if *priority_unconfirmed {
                (
                    " Жеңілдік расталмады: өтініш тіркелген уақыты сақталып, жалпы кезекке \
                     ауыстырылды.",
                    " Льгота не подтверждена: заявление переведено в общую очередь с \
                     сохранением времени регистрации.",
                )
            } else {
                ("", "")
            };
            (
                format!(
                    "№ {referral} жолдама кері қайтарып алынды. Бала кезекке өз орнымен \
                     қайтарылды (өтініш № {application}), бірақ {until} дейін тоқтату \
                     тізімінде тұрады.{tier_kk}"
                ),
                format!(
                    "Направление № {referral} отозвано. Ребёнок возвращён в очередь на своё \
                     место (заявление № {application}), но до {until} находится в \
                     стоп-листе.{tier_ru}"
                ),
            )
        }
    };
    bilingual(
        format!("Өтініш № {application}: мәртебесі өзгерді"),
        format!("Заявление № {application}: статус изменён"),
        kk,
        ru,
    )
}

/// Staff asked for a document. The officer's reason stays on the parent's page, not in a
/// message: it may describe the family's papers, which an e-mail should not carry.
pub fn document_requested(application: &str, kind: AttachmentKind) -> Texts {
    let (kind_kk, kind_ru) = match kind {
        AttachmentKind::PriorityDocument => (
            "басымдық құқығын растайтын құжат",
            "документ, подтверждающий право на приоритет",
        ),
        AttachmentKind::BirthCertificate => (
            "баланың туу туралы куәлігі",
            "свидетельство о рождении ребёнка",
        ),
        AttachmentKind::Other => ("құжат", "документ"),
    };
    bilingual(
        format!("Өтініш № {application}: құжат сұралды"),
        format!("Заявление № {application}: запрошен документ"),
        format!(
            "Өтініш № {application} бойынша маман құжатты сұрады: {kind_kk}. Себебін \
             порталдағы өтініш бетінен қарап, құжатты сол жерде тіркеңіз. Құжат келгенге \
             дейін өтінішті қарау мерзімі тоқтатылады."
        ),
        format!(
            "По заявлению № {application} специалист запросил документ: {kind_ru}. Причина \
             указана на странице заявления на портале; прикрепите документ там же. До его \
             получения срок рассмотрения заявления приостановлен."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_document_request_names_the_kind_not_the_reason() {
        let texts = document_requested("ESL-3", AttachmentKind::BirthCertificate);
        assert!(texts.subject.contains("ESL-3"));
        assert!(texts.body.contains("туу туралы куәлігі"));
        assert!(texts.body.contains("свидетельство о рождении"));
    }

    #[test]
    fn dates_are_local_and_an_end_of_day_names_its_day() {
        // 2026-11-27 19:00 UTC is 28.11 00:00 in Astana: the end of the 27th.
        let end = Utc.with_ymd_and_hms(2026, 11, 27, 19, 0, 0).unwrap();
        assert_eq!(last_day(end), "27.11.2026");
        assert_eq!(local_date_time(end), "28.11.2026 00:00");
        let morning = Utc.with_ymd_and_hms(2026, 11, 20, 4, 0, 0).unwrap();
        let texts = registered("ESL-7", morning);
        assert!(texts.subject.contains("ESL-7"));
        assert!(texts.body.contains("20.11.2026 09:00"));
        assert!(texts.subject.contains("тіркелді") && texts.subject.contains("зарегистрировано"));
        assert!(texts.body.contains("тіркелді") && texts.body.contains("поставлен в очередь"));
    }
}
