//! The words every audience's pages share (the frame, the navigation, the sign-in, the
//! names of statuses), in Kazakh and Russian, side by side so that a translator reads both
//! at once and neither can be forgotten (each is a field of one constant). Each audience's
//! own words are in its folder's `texts.rs` (`public/`, `parent/`, `office/`,
//! `kindergarten/`, `admin/`), which brings these into scope too.
//! Error messages are not here: they are the API's error table's, so a page and the API
//! say the same thing about the same refusal.

use chrono::{DateTime, NaiveDate, Utc};

/// The pages' languages. English is left out on purpose: the pages are for parents and
/// officers in Kazakhstan, and a third language would be a third set of texts to keep true.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PageLang {
    #[default]
    Kk,
    Ru,
}

impl PageLang {
    pub fn code(self) -> &'static str {
        match self {
            PageLang::Kk => "kk",
            PageLang::Ru => "ru",
        }
    }

    pub fn parse(text: &str) -> Option<PageLang> {
        match text {
            "kk" => Some(PageLang::Kk),
            "ru" => Some(PageLang::Ru),
            _ => None,
        }
    }

    pub fn t(self, text: T) -> &'static str {
        match self {
            PageLang::Kk => text.kk,
            PageLang::Ru => text.ru,
        }
    }

    /// The API error table's language for the same reader.
    pub fn api(self) -> crate::http::error::Lang {
        match self {
            PageLang::Kk => crate::http::error::Lang::Kk,
            PageLang::Ru => crate::http::error::Lang::Ru,
        }
    }

    pub fn pick(self, names: &crate::domain::catalog::Names) -> &str {
        match self {
            PageLang::Kk => &names.kk,
            PageLang::Ru => &names.ru,
        }
    }
}

/// One text in both languages.
#[derive(Clone, Copy, Debug)]
pub struct T {
    pub kk: &'static str,
    pub ru: &'static str,
}

/// Declares texts, each `NAME = "kk", "ru";`. Every audience's `texts` module uses it for
/// its own words.
macro_rules! texts {
    ($($name:ident = $kk:literal, $ru:literal;)*) => {
        $(pub const $name: $crate::http::pages::texts::T =
            $crate::http::pages::texts::T { kk: $kk, ru: $ru };)*
    };
}
pub(crate) use texts;

texts! {
    ATTACHMENTS_TITLE = "Тіркелген құжаттар", "Приложенные документы";
    ATTACHMENTS_NONE = "Әзірге құжат тіркелмеген.", "Документы пока не приложены.";
    ATTACHMENT_KIND = "Құжат түрі", "Вид документа";
    ATTACHMENT_KIND_PRIORITY = "Басымдық құқығын растайтын құжат", "Документ, подтверждающий право на первоочерёдность";
    ATTACHMENT_KIND_BIRTH = "Баланың туу туралы куәлігі", "Свидетельство о рождении ребёнка";
    ATTACHMENT_KIND_OTHER = "Басқа құжат", "Другой документ";
    ATTACHMENT_FILE = "Файл (PDF, JPEG немесе PNG)", "Файл (PDF, JPEG или PNG)";
    ATTACHMENT_FILE_HINT = "Фотосуреттердің метадеректері (EXIF, GPS) сақталмас бұрын жойылады.", "Метаданные фотографий (EXIF, GPS) удаляются перед сохранением.";
    ATTACHMENT_ADD = "Құжатты тіркеу", "Приложить документ";
    ATTACHMENT_DOWNLOAD = "Жүктеп алу", "Скачать";
    ATTACHMENT_ADDED = "Құжат тіркелді.", "Документ приложен.";
    ATTACHMENT_SIZE = "Көлемі, КБ", "Размер, КБ";
    DOCUMENT_REQUESTS_TITLE = "Сұралған құжаттар", "Запрошенные документы";
    DOCUMENT_REQUEST_OPEN = "Күтілуде", "Ожидается";
    DOCUMENT_REQUEST_RECEIVED = "Алынды", "Получен";
    AWAITING_DOCUMENT = "Құжат күтілуде: мерзім тоқтатылды", "Ожидается документ: срок приостановлен";
    SERVICE_NAME = "Кезек", "Кезек";
    SERVICE_TAGLINE = "Мемлекеттік балабақшаға кезек", "Очередь в государственный детский сад";
    SKIP_TO_CONTENT = "Негізгі мазмұнға өту", "Перейти к содержанию";
    NAV_LABEL = "Негізгі мәзір", "Главное меню";
    NAV_HOME = "Басты бет", "Главная";
    NAV_REGISTER = "Баланы тіркеу", "Поставить на очередь";
    NAV_MY = "Менің өтінішім", "Моё заявление";
    NAV_QUEUE = "Кезек", "Очередь";
    NAV_PROTOCOL = "Хаттама", "Протокол";
    NAV_STAFF = "Қызметкерлерге", "Сотрудникам";
    NAV_REPORTS = "Есептер", "Отчёты";
    LANG_SWITCH = "Тіл", "Язык";
    FOOTER = "Кезек тек расталған басымдық құқығы бойынша ғана озады. Әр шешім журналда жазылған және тексеріледі.",
             "Очередь обходят только по подтверждённому праву на первоочерёдность. Каждое решение записано в журнале и проверяемо.";
    FIELD_DISTRICT = "Аудан", "Район";
    FIELD_CHILD_NAME = "Баланың толық аты-жөні", "ФИО ребёнка";
    HINT_DATE = "ЖЖЖЖ-АА-КК, мысалы 2023-05-14", "ГГГГ-ММ-ДД, например 2023-05-14";
    ANY_LANGUAGE = "Кез келген", "Любой";
    SIGN_OUT = "Шығу", "Выйти";
    PERSON_WITHOUT_NAME = "Жеке кабинет", "Личный кабинет";

    MY_TITLE = "Өтініш", "Заявление";
    STATUS = "Мәртебесі", "Статус";
    REGISTERED_AT = "Тіркелген уақыты", "Время регистрации";
    LEGACY_NUMBER = "Бұрынғы жүйедегі нөмірі", "Номер в прежней системе";
    PERSONAL_DATA_ERASED = "Сақтау мерзімі өткен соң баланың және өтініш берушінің дербес деректері өшірілді; кезектегі жария деректер сақталды.", "По истечении срока хранения персональные данные ребёнка и заявителя удалены; открытые сведения об очереди сохранены.";
    LANGUAGE = "Топ тілі", "Язык группы";
    TIER = "Кезек тобы", "Очередность";
    POSITION_IN_COHORT = "Аудандағы туған жыл бойынша кезекте", "В очереди района по году рождения";
    POSITION_OF = "ішінен", "из";
    POSITION_AHEAD_ANY = "алдыңызда кез келген балабақшаға келісетіндер", "впереди согласных на любой детский сад";
    REFERRAL_NUMBER = "Жолдама нөмірі", "Номер направления";
    KINDERGARTEN = "Балабақша", "Детский сад";
    ISSUED_AT = "Берілген уақыты", "Выдано";
    VALID_UNTIL = "Балабақшаға тапсыру мерзімі", "Сдать в детский сад";
    ACTIONS = "Әрекеттер", "Действия";
    SHOW = "Көрсету", "Показать";
    NUMBER = "Нөмірі", "Номер";
    BIRTH_YEAR = "Туған жылы", "Год рождения";

    STAFF_SIGN_IN_TITLE = "Қызметкердің кіруі", "Вход для сотрудников";
    STAFF_SIGN_IN_INTRO = "Әкімші берген токенді енгізіңіз. Токен сақталмайды: браузерде тек қол қойылған сессия қалады.",
                          "Введите токен, выданный администратором. Токен не сохраняется: в браузере остаётся только подписанная сессия.";
    STAFF_SIGN_IN_PROVIDER = "Ұйымның тіркелгісімен кіру", "Войти через учётную запись организации";
    STAFF_SIGN_IN_OR_TOKEN = "Немесе әкімші берген токенмен:", "Или токеном, выданным администратором:";
    FIELD_TOKEN = "Токен", "Токен";
    SUBMIT_SIGN_IN = "Кіру", "Войти";
    SIGN_IN_FAILED = "Токен жарамсыз немесе кері қайтарылған.", "Токен недействителен или отозван.";
    SIGNED_IN_AS = "Кірген", "Вы вошли как";
    OPEN = "Ашу", "Открыть";
    CHANNEL = "Арна", "Канал";
    DESK_ON_BEHALF = "Ата-ананың атынан, ол қатысқанда тіркеу.", "Регистрация от имени родителя, в его присутствии.";
    DESK_ENTERED_BY = "Енгізген", "Вносит";
    DESK_NEXT = "Келесі баланы тіркеу", "Зарегистрировать следующего ребёнка";
    REGISTERED_NUMBER = "Өтініш нөмірі", "Номер заявления";
    REGISTERED_CODE = "Қол жеткізу коды", "Код доступа";
    PRINT_NOTICE = "Хабарламаны басып шығару", "Распечатать уведомление";
    FIELD_PHONE = "Телефон", "Телефон";
    FIELD_EMAIL = "Электрондық пошта (міндетті емес)", "Электронная почта (необязательно)";
    FIELD_ADDRESS = "Тұрғылықты мекенжайы", "Адрес проживания";
    HINT_PHONE = "+7 және 10 цифр", "+7 и 10 цифр";
    WHEN = "Қашан", "Когда";
    WHAT = "Не болды", "Что произошло";
    WHO = "Кім", "Кто";
    MORE = "Тағы", "Ещё";
    NOT_THIS_ROLE = "Бұл бет сіздің рөліңізге арналмаған.", "Эта страница не для вашей роли.";
    FIELD_REFERRAL = "Жолдама нөмірі", "Номер направления";
    HINT_REFERRAL = "Мысалы, ESL-R5", "Например, ESL-R5";

    VERIFY_TITLE = "Құжатты тексеру", "Проверка документа";
    VERIFY_AUTHENTIC = "Құжат түпнұсқа: мөрді осы жүйенің кілті қойған.", "Документ подлинный: печать поставлена ключом этой системы.";
    VERIFY_FORGED = "Құжат түпнұсқа емес немесе өзгертілген.", "Документ не подлинный или изменён.";
    VERIFY_VALID = "Күшінде.", "Действует.";
    VERIFY_NOT_VALID = "Күшінде емес.", "Не действует.";
    STANDING = "Жағдайы", "Состояние";

    ERROR_TITLE = "Қате", "Ошибка";
    NOT_FOUND_TITLE = "Бет табылмады", "Страница не найдена";
    BACK_HOME = "Басты бетке", "На главную";
    FORM_EXPIRED = "Форманың мерзімі өтті немесе ол басқа сессиядан. Бетті жаңартып, қайталаңыз.",
                   "Форма устарела или пришла из другой сессии. Обновите страницу и повторите.";
}

/// A kind of staff view in the access log, as parents and administrators read it.
pub fn view_kind(lang: PageLang, code: &str) -> &'static str {
    let text = match code {
        "application" => T {
            kk: "Өтінішті ашты",
            ru: "Открыл заявление",
        },
        "search" => T {
            kk: "Іздеуде не жұмыс тізімінде көрді",
            ru: "Видел в поиске или рабочем списке",
        },
        "referral" => T {
            kk: "Жолдаманы қарады",
            ru: "Смотрел направление",
        },
        "roster" => T {
            kk: "Топ тізімін қарады",
            ru: "Смотрел список группы",
        },
        "attachment" => T {
            kk: "Тіркелген құжаттарды қарады",
            ru: "Смотрел приложенные документы",
        },
        _ => T {
            kk: "Қарады",
            ru: "Смотрел",
        },
    };
    lang.t(text)
}

/// An application's status, as the parent reads it.
pub fn status(lang: PageLang, code: &str) -> &'static str {
    let text = match code {
        "queued" => T {
            kk: "Кезекте",
            ru: "В очереди",
        },
        "referred" => T {
            kk: "Жолдама берілді",
            ru: "Выдано направление",
        },
        "enrolled" => T {
            kk: "Балабақшаға қабылданды",
            ru: "Зачислен в детский сад",
        },
        "withdrawn" => T {
            kk: "Кері қайтарылды",
            ru: "Отозвано",
        },
        "aged_out" => T {
            kk: "Мектеп жасына жетті",
            ru: "Достиг школьного возраста",
        },
        "refused" => T {
            kk: "Бас тартылды",
            ru: "Отказано",
        },
        "moved" => T {
            kk: "Басқа ауданға ауыстырылды",
            ru: "Перенесено в другой район",
        },
        "left" => T {
            kk: "Бала балабақшадан шықты",
            ru: "Ребёнок выбыл из детского сада",
        },
        _ => T {
            kk: "Белгісіз",
            ru: "Неизвестно",
        },
    };
    lang.t(text)
}

pub fn referral_status(lang: PageLang, code: &str) -> &'static str {
    let text = match code {
        "issued" => T {
            kk: "Берілді, тапсыруды күтуде",
            ru: "Выдано, ожидает сдачи",
        },
        "handed_in" => T {
            kk: "Балабақшаға тапсырылды",
            ru: "Сдано в детский сад",
        },
        "declined" => T {
            kk: "Бас тартылды",
            ru: "Отказ",
        },
        "expired" => T {
            kk: "Мерзімі өтті",
            ru: "Срок истёк",
        },
        "revoked" => T {
            kk: "Кері қайтарылды",
            ru: "Отозвано",
        },
        _ => T {
            kk: "Белгісіз",
            ru: "Неизвестно",
        },
    };
    lang.t(text)
}

pub fn tier(lang: PageLang, code: &str) -> &'static str {
    let text = match code {
        "out_of_turn" => T {
            kk: "Кезектен тыс",
            ru: "Вне очереди",
        },
        "first" => T {
            kk: "Бірінші кезекте",
            ru: "В первую очередь",
        },
        _ => T {
            kk: "Жалпы кезек",
            ru: "Общая очередь",
        },
    };
    lang.t(text)
}

pub fn claim_status(lang: PageLang, code: &str) -> &'static str {
    let text = match code {
        "claimed" => T {
            kk: "тексеруді күтуде",
            ru: "ожидает проверки",
        },
        "verified" => T {
            kk: "расталды",
            ru: "подтверждено",
        },
        "rejected" => T {
            kk: "қабылданбады",
            ru: "отклонено",
        },
        _ => T {
            kk: "белгісіз",
            ru: "неизвестно",
        },
    };
    lang.t(text)
}

/// One step of an application's history, by the journal's event kind.
pub fn change(lang: PageLang, kind: &str) -> &'static str {
    let text = match kind {
        "application_registered" => T {
            kk: "Өтініш тіркелді",
            ru: "Заявление зарегистрировано",
        },
        "application_withdrawn" => T {
            kk: "Өтініш кері қайтарылды",
            ru: "Заявление отозвано",
        },
        "priority_verified" => T {
            kk: "Басымдық расталды",
            ru: "Право подтверждено",
        },
        "priority_rejected" => T {
            kk: "Басымдық қабылданбады",
            ru: "Право отклонено",
        },
        "referral_issued" => T {
            kk: "Жолдама берілді",
            ru: "Выдано направление",
        },
        "referral_extended" => T {
            kk: "Жолдама ұзартылды",
            ru: "Направление продлено",
        },
        "referral_handed_in" => T {
            kk: "Жолдама тапсырылды",
            ru: "Направление сдано",
        },
        "referral_lapsed" => T {
            kk: "Жолдама күшін жойды",
            ru: "Направление аннулировано",
        },
        "stop_list_ended" => T {
            kk: "Тоқтату тізімінен шықты",
            ru: "Вышел из стоп-листа",
        },
        "application_aged_out" => T {
            kk: "Мектеп жасына жетті",
            ru: "Достиг школьного возраста",
        },
        "notice_issued" => T {
            kk: "Тіркеу туралы хабарлама берілді; қызмет көрсетілді",
            ru: "Выдано уведомление о регистрации; услуга оказана",
        },
        "application_refused" => T {
            kk: "Дәлелді бас тарту",
            ru: "Мотивированный отказ",
        },
        "survey_answered" => T {
            kk: "Сауалнамаға жауап берілді",
            ru: "Ответ на опрос",
        },
        "application_amended" => T {
            kk: "Өтінішке өзгеріс енгізілді",
            ru: "В заявление внесены изменения",
        },
        "applicant_rebound" => T {
            kk: "Өтініш нақты өтініш берушіге берілді",
            ru: "Заявление передано настоящему заявителю",
        },
        "application_moved" => T {
            kk: "Басқа ауданға ауыстырылды",
            ru: "Перенесено в другой район",
        },
        "application_imported" => T {
            kk: "Бұрынғы жүйеден көшірілді",
            ru: "Перенесено из прежней системы",
        },
        "family_choice_set" => T {
            kk: "Отбасының таңдауы өзгерді",
            ru: "Изменён выбор семьи",
        },
        "family_passed_over" => T {
            kk: "Отбасы бірге орын күтуде",
            ru: "Семья ждёт мест вместе",
        },
        "transfer_requested" => T {
            kk: "Ауысуға өтініш берілді",
            ru: "Подана заявка на перевод",
        },
        "child_left" => T {
            kk: "Бала балабақшадан шықты",
            ru: "Ребёнок выбыл из детского сада",
        },
        _ => T {
            kk: "Өзгеріс",
            ru: "Изменение",
        },
    };
    lang.t(text)
}

pub fn actor(lang: PageLang, by: &str) -> &'static str {
    let text = match by {
        "parent" => T {
            kk: "Ата-ана",
            ru: "Родитель",
        },
        "staff" => T {
            kk: "Қызметкер",
            ru: "Сотрудник",
        },
        _ => T {
            kk: "Жүйе",
            ru: "Система",
        },
    };
    lang.t(text)
}

pub fn channel(lang: PageLang, code: &str) -> &'static str {
    let text = match code {
        "portal" => T {
            kk: "Портал",
            ru: "Портал",
        },
        "service_centre" => T {
            kk: "ХҚКО",
            ru: "ЦОН",
        },
        "office" => T {
            kk: "Білім бөлімі",
            ru: "Отдел образования",
        },
        "import" => T {
            kk: "Бұрынғы жүйе",
            ru: "Прежняя система",
        },
        _ => T {
            kk: "Басқа",
            ru: "Другое",
        },
    };
    lang.t(text)
}

pub fn standing(lang: PageLang, code: &str) -> &'static str {
    let text = match code {
        "in_force" => T {
            kk: "Күшінде",
            ru: "Действует",
        },
        "superseded" => T {
            kk: "Жаңа нұсқамен ауыстырылды",
            ru: "Заменён новой версией",
        },
        "used" => T {
            kk: "Пайдаланылды (балабақшаға тапсырылды)",
            ru: "Использован (сдан в детский сад)",
        },
        _ => T {
            kk: "Аяқталды",
            ru: "Прекращён",
        },
    };
    lang.t(text)
}

/// A day as people in Kazakhstan write it.
pub fn date(day: NaiveDate) -> String {
    day.format("%d.%m.%Y").to_string()
}

/// A deadline as its last day, "до конца пятницы 27.11.2026": never the midnight that ends
/// it, which reads as the next day.
pub fn until_end_of(lang: PageLang, end: DateTime<Utc>) -> String {
    let words = crate::domain::deadline::until_end_of(crate::domain::deadline::last_day(end));
    match lang {
        PageLang::Kk => words.kk,
        PageLang::Ru => words.ru,
    }
}

/// An instant in local time (UTC+5), to the minute.
pub fn local_time(instant: DateTime<Utc>) -> String {
    instant
        .with_timezone(&crate::domain::local_offset())
        .format("%d.%m.%Y %H:%M")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_the_api_can_answer_has_words() {
        use crate::domain::application::ApplicationStatus as S;
        for status_value in [
            S::Queued,
            S::Referred,
            S::Enrolled,
            S::Withdrawn,
            S::AgedOut,
            S::Refused,
            S::Moved,
            S::Left,
        ] {
            let code = crate::http::views::codec_text(&status_value);
            for lang in [PageLang::Kk, PageLang::Ru] {
                assert_ne!(
                    status(lang, &code),
                    status(lang, "?"),
                    "{code} has no words"
                );
            }
        }
    }

    #[test]
    fn dates_are_written_day_first_in_local_time() {
        use chrono::TimeZone;
        // 19:30 UTC is already the next day in Kazakhstan.
        let instant = Utc.with_ymd_and_hms(2026, 11, 20, 19, 30, 0).unwrap();
        assert_eq!(local_time(instant), "21.11.2026 00:30");
        assert_eq!(date(instant.date_naive()), "20.11.2026");
    }
}
