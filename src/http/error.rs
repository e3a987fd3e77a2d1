//! The one table of API errors: a stable machine `code`, an HTTP status, and a human message
//! in Kazakh, Russian and English, chosen by the request's `Accept-Language`.
//!
//! Every failure a client can see is a row here. Storage and internal failures become one
//! opaque `internal` (500); their details go to the log, never to the client.

use crate::domain::application::Refusal;
use crate::service::CommandError;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// The languages of the service's texts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Kk,
    #[default]
    Ru,
    En,
}

impl Lang {
    /// The best of kk, ru, en by the header's q-values; Russian when nothing matches (the
    /// language most users of the national e-government portal read, after Kazakh users who
    /// ask for it by name).
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let Some(header) = header else {
            return Lang::default();
        };
        let mut best: Option<(f32, Lang)> = None;
        for item in header.split(',') {
            let mut parts = item.trim().split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let quality = parts
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let lang = match tag.split('-').next().unwrap_or("") {
                "kk" => Lang::Kk,
                "ru" => Lang::Ru,
                "en" => Lang::En,
                _ => continue,
            };
            if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
                best = Some((quality, lang));
            }
        }
        best.map_or(Lang::default(), |(_, lang)| lang)
    }

    pub fn from_headers(headers: &HeaderMap) -> Lang {
        let header = headers.get("accept-language").and_then(|v| v.to_str().ok());
        Lang::from_accept_language(header)
    }
}

/// One row of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorKind {
    pub code: &'static str,
    pub status: StatusCode,
    pub kk: &'static str,
    pub ru: &'static str,
    pub en: &'static str,
}

impl ErrorKind {
    pub fn message(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::Kk => self.kk,
            Lang::Ru => self.ru,
            Lang::En => self.en,
        }
    }
}

macro_rules! errors {
    ($($name:ident = $code:literal, $status:ident, $kk:literal, $ru:literal, $en:literal;)*) => {
        $(pub const $name: ErrorKind = ErrorKind {
            code: $code, status: StatusCode::$status, kk: $kk, ru: $ru, en: $en,
        };)*
        /// Every row, for tests and documentation.
        pub const ALL: &[ErrorKind] = &[$($name),*];
    };
}

errors! {
    MALFORMED = "malformed", BAD_REQUEST,
        "Сұрау дұрыс құрастырылмаған.", "Запрос составлен неверно.", "The request is malformed.";
    ACCESS_CODE_REQUIRED = "access_code_required", UNAUTHORIZED,
        "Өтініш нөмірі мен қолжетімділік кодын көрсетіңіз (X-Access-Code).", "Укажите номер заявления и код доступа (X-Access-Code).", "Give the application number and its access code (X-Access-Code).";
    UNAUTHORIZED = "unauthorized", UNAUTHORIZED,
        "Кіру белгісі жоқ немесе жарамсыз.", "Токен отсутствует или недействителен.", "The token is missing or invalid.";
    FORBIDDEN = "forbidden", FORBIDDEN,
        "Бұл әрекетке құқығыңыз жоқ.", "У вас нет прав на это действие.", "You may not do this.";
    NOT_FOUND = "not_found", NOT_FOUND,
        "Табылмады.", "Не найдено.", "Not found.";
    CONFLICT = "conflict", CONFLICT,
        "Әрекет ағымдағы күйге сәйкес келмейді.", "Действие не соответствует текущему состоянию.", "The action does not fit the current state.";
    PAYLOAD_TOO_LARGE = "payload_too_large", PAYLOAD_TOO_LARGE,
        "Сұрау тым үлкен.", "Запрос слишком большой.", "The request is too large.";
    RATE_LIMITED = "rate_limited", TOO_MANY_REQUESTS,
        "Сұраулар тым көп. Кейінірек қайталаңыз.", "Слишком много запросов. Повторите позже.", "Too many requests. Try again later.";
    INVALID = "invalid", UNPROCESSABLE_ENTITY,
        "Деректер жарамсыз.", "Данные недопустимы.", "The data are not valid.";
    UNAVAILABLE = "unavailable", SERVICE_UNAVAILABLE,
        "Қызмет уақытша қолжетімсіз.", "Сервис временно недоступен.", "The service is temporarily unavailable.";
    INTERNAL = "internal", INTERNAL_SERVER_ERROR,
        "Ішкі қате. Сұрау сақталмады.", "Внутренняя ошибка. Запрос не сохранён.", "Internal error. Nothing was stored.";
    DISTRICT_UNKNOWN = "district_unknown", UNPROCESSABLE_ENTITY,
        "Аудан табылмады.", "Район не найден.", "The district is not known.";
    CHILD_IIN_INVALID = "child_iin_invalid", UNPROCESSABLE_ENTITY,
        "Баланың ЖСН-і қате.", "ИИН ребёнка неверен.", "The child's IIN is not valid.";
    APPLICANT_IIN_INVALID = "applicant_iin_invalid", UNPROCESSABLE_ENTITY,
        "Өтініш берушінің ЖСН-і қате.", "ИИН заявителя неверен.", "The applicant's IIN is not valid.";
    BIRTH_DATE_MALFORMED = "birth_date_malformed", UNPROCESSABLE_ENTITY,
        "Туған күні ЖЖЖЖ-АА-КК түрінде болуы керек.", "Дата рождения должна быть в виде ГГГГ-ММ-ДД.", "The birth date must be YYYY-MM-DD.";
    BIRTH_DATE_MISMATCH = "birth_date_mismatch", UNPROCESSABLE_ENTITY,
        "Туған күні ЖСН-дегі күнмен сәйкес келмейді.", "Дата рождения не совпадает с датой в ИИН.", "The birth date differs from the one in the IIN.";
    CHILD_NOT_BORN = "child_not_born", UNPROCESSABLE_ENTITY,
        "Бала әлі туылмаған.", "Ребёнок ещё не родился.", "The child is not yet born.";
    NOT_PRESCHOOL_AGE = "not_preschool_age", UNPROCESSABLE_ENTITY,
        "Бала қалаған күні мектепке дейінгі жаста емес.", "На желаемую дату ребёнок не дошкольного возраста.", "The child is not of preschool age on the desired start date.";
    DESIRED_START_MALFORMED = "desired_start_malformed", UNPROCESSABLE_ENTITY,
        "Қалаған күн ЖЖЖЖ-АА-КК түрінде болуы керек.", "Желаемая дата должна быть в виде ГГГГ-ММ-ДД.", "The desired start date must be YYYY-MM-DD.";
    DESIRED_START_IN_PAST = "desired_start_in_past", UNPROCESSABLE_ENTITY,
        "Қалаған күн өтіп кеткен.", "Желаемая дата уже прошла.", "The desired start date is in the past.";
    NAME_INVALID = "name_invalid", UNPROCESSABLE_ENTITY,
        "Аты-жөні бос немесе тым ұзын.", "ФИО пустое или слишком длинное.", "A name is empty or too long.";
    PHONE_INVALID = "phone_invalid", UNPROCESSABLE_ENTITY,
        "Телефон нөмірі +7 және 10 цифр болуы керек.", "Телефон должен быть +7 и 10 цифр.", "The phone must be +7 and 10 digits.";
    EMAIL_INVALID = "email_invalid", UNPROCESSABLE_ENTITY,
        "Электрондық пошта мекенжайы жарамсыз.", "Адрес электронной почты неверен.", "The e-mail address is not valid.";
    ADDRESS_INVALID = "address_invalid", UNPROCESSABLE_ENTITY,
        "Мекенжай бос немесе тым ұзын.", "Адрес пустой или слишком длинный.", "The address is empty or too long.";
    RELATION_INVALID = "relation_invalid", UNPROCESSABLE_ENTITY,
        "Балаға қатысы дұрыс көрсетілмеген.", "Родство с ребёнком указано неверно.", "The relation to the child is not valid.";
    TOO_MANY_KINDERGARTENS = "too_many_kindergartens", UNPROCESSABLE_ENTITY,
        "Ең көбі 5 балабақша таңдауға болады.", "Можно выбрать не более 5 детских садов.", "At most 5 kindergartens may be chosen.";
    DUPLICATE_KINDERGARTEN = "duplicate_kindergarten", UNPROCESSABLE_ENTITY,
        "Балабақша екі рет таңдалған.", "Детский сад выбран дважды.", "A kindergarten is chosen twice.";
    KINDERGARTEN_UNKNOWN = "kindergarten_unknown", UNPROCESSABLE_ENTITY,
        "Таңдалған балабақша табылмады.", "Выбранный детский сад не найден.", "A chosen kindergarten does not exist.";
    KINDERGARTEN_NOT_IN_DISTRICT = "kindergarten_not_in_district", UNPROCESSABLE_ENTITY,
        "Таңдалған балабақша басқа ауданда.", "Выбранный детский сад в другом районе.", "A chosen kindergarten is in another district.";
    LANGUAGE_NOT_OFFERED = "language_not_offered", UNPROCESSABLE_ENTITY,
        "Ауданда бұл тілде топтар жоқ.", "В районе нет групп на этом языке.", "The district runs no groups in that language.";
    PRIORITY_CATEGORY_UNKNOWN = "priority_category_unknown", UNPROCESSABLE_ENTITY,
        "Басымдық санаты табылмады.", "Категория приоритета не найдена.", "The priority category is not known.";
    PRIORITY_DOCUMENT_MISSING = "priority_document_missing", UNPROCESSABLE_ENTITY,
        "Басымдықты растайтын құжат көрсетілмеген.", "Не указан документ, подтверждающий приоритет.", "The priority claim needs its supporting document.";
    TEXT_UNSAFE = "text_unsafe", UNPROCESSABLE_ENTITY,
        "Мәтінде басқару, көрінбейтін немесе жазу бағытын өзгертетін таңба бар.", "Текст содержит управляющий, невидимый или меняющий направление письма символ.", "A text holds a control, invisible or direction-changing character.";
    APPLICANT_IS_CHILD = "applicant_is_child", UNPROCESSABLE_ENTITY,
        "Өтініш беруші бала бола алмайды.", "Заявитель не может быть ребёнком.", "The applicant cannot be the child.";
    CLOCK_NOT_MANUAL = "clock_not_manual", FORBIDDEN,
        "Қызмет жүйелік сағатпен жұмыс істейді; --clock manual арқылы іске қосыңыз.", "Сервис работает по системным часам; запустите его с --clock manual.", "The service runs on the system clock; start it with --clock manual.";
    CLOCK_BACKWARDS = "clock_backwards", CONFLICT,
        "Сағат тек алға жылжиды.", "Часы идут только вперёд.", "The clock only moves forward.";
    ALREADY_QUEUED = "already_queued", CONFLICT,
        "Баланың белсенді өтініші бар.", "У ребёнка уже есть активное заявление.", "The child already has an active application.";
    ALREADY_ENROLLED = "already_enrolled", CONFLICT,
        "Бала балабақшаға қабылданған: жаңа өтініштің орнына ауысуға өтініш беріңіз.", "Ребёнок уже зачислен в детский сад: вместо нового заявления подайте заявку на перевод.", "The child is already enrolled in a kindergarten: ask for a transfer instead.";
    NOTHING_TO_AMEND = "nothing_to_amend", UNPROCESSABLE_ENTITY,
        "Өзгеріс жоқ: барлық мәндер бұрынғыдай.", "Изменений нет: все значения прежние.", "The amendment changes nothing.";
    REFERRAL_OUTSTANDING = "referral_outstanding", CONFLICT,
        "Жолдама берілген: ол аяқталғанша балабақшаларды, тілді және басталу күнін өзгертуге болмайды (байланыс деректерін өзгертуге болады).", "Выдано направление: пока оно действует, нельзя менять детские сады, язык и дату начала (контакты менять можно).", "A referral is outstanding: kindergartens, language and start date cannot change until it ends (contacts can).";
    MOVE_TO_SAME_DISTRICT = "move_to_same_district", UNPROCESSABLE_ENTITY,
        "Өтініш осы ауданда тұр.", "Заявление уже в этом районе.", "The application is already in that district.";
    NOT_ENROLLED = "not_enrolled", CONFLICT,
        "Ауысу тек осы өтініш бойынша балабақшаға қабылданған балаға арналған.", "Перевод возможен только для ребёнка, зачисленного по этому заявлению.", "A transfer is only for a child enrolled through this application.";
    TRANSFER_TO_OWN_KINDERGARTEN = "transfer_to_own_kindergarten", UNPROCESSABLE_ENTITY,
        "Бала қазір баратын балабақшаға ауысу сұрауға болмайды.", "Нельзя просить перевод в детский сад, который ребёнок уже посещает.", "A transfer cannot ask for the kindergarten the child already attends.";
    TRANSFER_PENDING = "transfer_pending", CONFLICT,
        "Бұл балаға ауысу туралы өтініш күтуде.", "Заявка на перевод этого ребёнка уже ожидает.", "A transfer request is already waiting for this child.";
    FAMILY_SIZE_INVALID = "family_size_invalid", UNPROCESSABLE_ENTITY,
        "Отбасы 2-ден 6-ға дейін баланы тіркейді.", "Семья регистрирует от 2 до 6 детей.", "A family registers 2 to 6 children.";
    NOT_IN_FAMILY = "not_in_family", CONFLICT,
        "Өтініш ешбір отбасына кірмейді.", "Заявление не входит ни в одну семью.", "The application is in no family.";
    FAMILY_CHILD_REPEATED = "family_child_repeated", UNPROCESSABLE_ENTITY,
        "Бір бала отбасында екі рет көрсетілген.", "Один ребёнок указан в семье дважды.", "A child appears twice in the family.";
    TIMEOUT = "timeout", SERVICE_UNAVAILABLE,
        "Сұрау тым ұзақ орындалды. Кейінірек қайталаңыз.", "Запрос выполнялся слишком долго. Повторите позже.", "The request took too long. Try again later.";
    FIELD_NOT_SETTABLE = "field_not_settable", UNPROCESSABLE_ENTITY,
        "Бұл өрісті клиент емес, қызметтің өзі толтырады.", "Это поле заполняет сервис, а не клиент.", "This field is set by the service, not by the client.";
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE,
        "Сұрау денесі application/json түрінде болуы керек.", "Тело запроса должно быть application/json.", "The request body must be application/json.";
    METHOD_NOT_ALLOWED = "method_not_allowed", METHOD_NOT_ALLOWED,
        "Бұл мекенжай мұндай әдісті қабылдамайды.", "Этот адрес не принимает такой метод.", "This address does not accept this method.";
    IDEMPOTENCY_KEY_INVALID = "idempotency_key_invalid", BAD_REQUEST,
        "Idempotency-Key 1-ден 255-ке дейін көрінетін ASCII таңбадан тұруы керек.", "Idempotency-Key должен состоять из 1–255 видимых символов ASCII.", "The Idempotency-Key must be 1 to 255 visible ASCII characters.";
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused", UNPROCESSABLE_ENTITY,
        "Бұл Idempotency-Key басқа сұрауға қолданылған.", "Этот Idempotency-Key уже использован для другого запроса.", "This Idempotency-Key was already used for a different request.";
    REFERRAL_NOT_LIVE = "referral_not_live", CONFLICT,
        "Жолдама енді жарамсыз.", "Направление уже недействительно.", "The referral is no longer live.";
    APPLICATION_NOT_QUEUED = "application_not_queued", CONFLICT,
        "Өтініш кезекте тұрған жоқ.", "Заявление не стоит в очереди.", "The application is not in the queue.";
    PRIORITY_ALREADY_DECIDED = "priority_already_decided", CONFLICT,
        "Басымдық бойынша шешім қабылданып қойған.", "Решение по приоритету уже принято.", "The priority claim is already decided.";
    NO_PRIORITY_CLAIM = "no_priority_claim", CONFLICT,
        "Өтініште басымдық талабы жоқ.", "В заявлении не заявлен приоритет.", "The application claims no priority.";
    ALREADY_EXTENDED = "already_extended", CONFLICT,
        "Мерзім бір рет ұзартылып қойған.", "Срок уже продлевался.", "The deadline was already extended.";
    SURVEY_ALREADY_ANSWERED = "survey_already_answered", CONFLICT,
        "Сауалнамаға жауап берілген.", "На опрос уже ответили.", "The survey is already answered.";
    // No longer answered: the survey opens at registration (seed 004). Kept so that the code
    // is never given another meaning.
    SURVEY_NOT_YET = "survey_not_yet", CONFLICT,
        "Сауалнама өтініш аяқталғаннан кейін ғана ашылады.", "Опрос доступен только после завершения заявления.", "The survey opens only after the application is completed.";
    QUERY_INVALID = "query_invalid", BAD_REQUEST,
        "Сұрау параметрі дұрыс емес.", "Параметр запроса указан неверно.", "A query parameter is malformed.";
    // Admission control and readiness (issue 13).
    REGISTRATIONS_LIMITED = "registrations_limited", TOO_MANY_REQUESTS,
        "Бір сағатта тым көп өтініш берілді. Кейінірек қайталаңыз.", "Слишком много заявлений за час. Повторите позже.", "Too many registrations this hour. Try again later.";
    SIGNIN_REQUIRED = "signin_required", UNAUTHORIZED,
        "Өтінішті тіркеу үшін жүйеге кіріңіз.", "Чтобы подать заявление, войдите в систему.", "Sign in to register an application.";
    SIGNIN_NOT_CONFIGURED = "signin_not_configured", NOT_FOUND,
        "Бұл қызметте жеке басты растау провайдері бапталмаған: өтінішті нөмірі мен қолжетімділік кодымен ашыңыз.", "В этом сервисе не настроен провайдер входа: открывайте заявление по номеру и коду доступа.", "This service has no identity provider: open an application with its number and access code.";
    SIGNIN_STATE_INVALID = "signin_state_invalid", BAD_REQUEST,
        "Кіру сеансы табылмады немесе ескірді. Қайта кіріңіз.", "Сеанс входа не найден или устарел. Войдите снова.", "The sign-in was not started here or has expired. Sign in again.";
    SIGNIN_REPLAYED = "signin_replayed", BAD_REQUEST,
        "Бұл кіру жауабы бұрын қолданылған. Қайта кіріңіз.", "Этот ответ входа уже был использован. Войдите снова.", "This sign-in answer was already used. Sign in again.";
    SIGNIN_DENIED = "signin_denied", UNAUTHORIZED,
        "Провайдер кіруді растамады. Қайта кіріңіз.", "Провайдер не подтвердил вход. Войдите снова.", "The provider did not confirm the sign-in. Sign in again.";
    TOKEN_SIGNATURE_INVALID = "token_signature_invalid", UNAUTHORIZED,
        "Жеке басты растау белгісінің қолтаңбасы жарамсыз. Қайта кіріңіз.", "Подпись токена входа недействительна. Войдите снова.", "The ID token's signature is not valid. Sign in again.";
    TOKEN_AUDIENCE_INVALID = "token_audience_invalid", UNAUTHORIZED,
        "Жеке басты растау белгісі басқа қызметке берілген.", "Токен входа выдан другому сервису.", "The ID token was issued to another service.";
    TOKEN_EXPIRED = "token_expired", UNAUTHORIZED,
        "Жеке басты растау белгісінің мерзімі өтті. Қайта кіріңіз.", "Срок токена входа истёк. Войдите снова.", "The ID token has expired. Sign in again.";
    TOKEN_INVALID = "token_invalid", UNAUTHORIZED,
        "Жеке басты растау белгісі жарамсыз. Қайта кіріңіз.", "Токен входа недействителен. Войдите снова.", "The ID token is not valid. Sign in again.";
    IIN_CLAIM_MISSING = "iin_claim_missing", UNPROCESSABLE_ENTITY,
        "Провайдер ЖСН-іңізді бермеді: провайдердің қолдау қызметіне хабарласыңыз.", "Провайдер не передал ваш ИИН: обратитесь в его службу поддержки.", "The provider did not give your IIN: contact its support.";
    IIN_CLAIM_INVALID = "iin_claim_invalid", UNPROCESSABLE_ENTITY,
        "Провайдер берген ЖСН қате: провайдердің қолдау қызметіне хабарласыңыз.", "ИИН, переданный провайдером, неверен: обратитесь в его службу поддержки.", "The IIN the provider gave is not valid: contact its support.";
    SUBJECT_CLAIM_MISSING = "subject_claim_missing", UNPROCESSABLE_ENTITY,
        "Провайдердің белгісінде қызметкерді анықтайтын мәлімет жоқ: әкімшіге хабарласыңыз.", "В токене провайдера нет сведений, определяющих сотрудника: обратитесь к администратору.", "The provider's token has no claim naming the staff member: contact the administrator.";
    PROVIDER_UNAVAILABLE = "provider_unavailable", SERVICE_UNAVAILABLE,
        "Жеке басты растау провайдері қазір жауап бермейді. Біраздан соң қайталаңыз.", "Провайдер входа сейчас не отвечает. Повторите чуть позже.", "The identity provider is not answering. Try again shortly.";
    STAFF_NOT_BOUND = "staff_not_bound", FORBIDDEN,
        "Бұл тіркелгіге қызметкер есептік жазбасы байланыстырылмаған немесе ол қайтарылып алынған.", "К этой учётной записи не привязан действующий аккаунт сотрудника.", "No active staff account is bound to this identity.";
    ATTEMPTS_LIMITED = "registration_attempts_limited", TOO_MANY_REQUESTS,
        "Бір сағатта тым көп сәтсіз тіркеу әрекеті. Кейінірек қайталаңыз.", "Слишком много неудачных попыток регистрации за час. Повторите позже.", "Too many refused registrations this hour. Try again later.";
    WRITES_BUSY = "busy", SERVICE_UNAVAILABLE,
        "Қызмет қазір тым көп өзгерісті өңдеп жатыр. Біраздан соң қайталаңыз.", "Сервис сейчас обрабатывает слишком много изменений. Повторите чуть позже.", "The service is handling too many changes right now. Try again shortly.";
    NOT_READY = "not_ready", SERVICE_UNAVAILABLE,
        "Қызмет өзгерістерді қазір сақтай алмайды.", "Сервис сейчас не может сохранять изменения.", "The service cannot store changes right now.";
    POLICY_INVALID = "policy_invalid", UNPROCESSABLE_ENTITY,
        "Аудан ережесі рұқсат етілген шектен тыс: жолдама 1–30 жұмыс күні, 1–60 күнтізбелік күн немесе бір ай жарамды; ұзарту берілген күннен кейін 1–90 күнге дейін; тоқтату тізімі 0–90 күн.", "Правило района вне допустимых пределов: направление действует 1–30 рабочих дней, 1–60 календарных дней или месяц; продление до 1–90 дней после выдачи; стоп-лист 0–90 дней.", "The district's rule is out of range: a referral is valid 1-30 working days, 1-60 calendar days or a month; an extension reaches 1-90 days after issue; the stop list is 0-90 days.";
    EXTENSION_NOT_ALLOWED = "extension_not_allowed", CONFLICT,
        "Бұл ауданда жолдаманың мерзімі ұзартылмайды.", "В этом районе срок направления не продлевается.", "This district does not extend referrals.";
    // The kindergarten head's and the administrator's pages (issue 15).
    PLACE_NOT_OPEN = "place_not_open", CONFLICT,
        "Орын бос емес: оған жолдама берілген немесе ол қайтарылған.", "Место не свободно: на него выдано направление или оно уже снято.", "The place is not open: a referral holds it or it was withdrawn.";
    CHILD_NOT_ENROLLED = "child_not_enrolled", CONFLICT,
        "Бала бұл балабақшаға қабылданбаған немесе одан шығып кеткен.", "Ребёнок не зачислен в этот детский сад или уже выбыл.", "The child is not enrolled in this kindergarten, or has already left.";
    GROUP_CLOSED = "group_closed", CONFLICT,
        "Топ жабық: ол жаңа орындар алмайды.", "Группа закрыта: она не принимает новых мест.", "The group is closed: it takes no new places.";
    CATEGORY_EXISTS = "category_exists", CONFLICT,
        "Мұндай кодты санат бар.", "Категория с таким кодом уже есть.", "A category with this code exists already.";
    CATEGORY_RETIRED = "category_retired", CONFLICT,
        "Санат қолданыстан шығарылған.", "Категория уже выведена из употребления.", "The category is retired already.";
    STAFF_NAME_TAKEN = "staff_name_taken", CONFLICT,
        "Мұндай атты есептік жазба бар.", "Учётная запись с таким именем уже есть.", "An account with this name exists already.";
    STAFF_REVOKED = "staff_revoked", CONFLICT,
        "Есептік жазба кері қайтарылған.", "Учётная запись отозвана.", "The account is revoked.";
    LAST_ADMINISTRATOR = "last_administrator", CONFLICT,
        "Бұл соңғы әкімші: алдымен басқа әкімші қосыңыз.", "Это последний администратор: сначала добавьте другого.", "This is the last administrator: add another first.";
    CHILD_TRANSFER_PENDING = "child_transfer_pending", CONFLICT,
        "Баланың ауысу өтініші немесе ауысу жолдамасы бар: ол аяқталғаннан кейін ғана шыққан деп белгілеуге болады.", "У ребёнка есть заявка или направление на перевод: отметить выбытие можно после их завершения.", "The child has a transfer request or referral outstanding: mark it as left once that ends.";
    // The intake round (issue 18).
    ROUND_DATE_PAST = "round_date_past", UNPROCESSABLE_ENTITY,
        "Кезеңнің орындары бүгіннен бастап немесе кейінгі күнге арналуы керек.", "Места приёмной кампании должны быть на сегодняшнюю или более позднюю дату.", "A round's places are for today or a later date.";
    ROUND_CLOSE_INVALID = "round_close_invalid", UNPROCESSABLE_ENTITY,
        "Кезең қазірден кейін және орындар күніне дейін жабылуы керек.", "Кампания должна закрываться позже текущего момента и не позже даты мест.", "A round closes after now and no later than its places' date.";
    ROUND_ORDER_INVALID = "round_order_invalid", UNPROCESSABLE_ENTITY,
        "Тізімде осы ауданның балабақшалары ғана, әрқайсысы бір рет болуы керек.", "В порядке могут быть только детские сады этого района, каждый один раз.", "The order may name only the district's kindergartens, each once.";
    ROUND_OVERLAPS = "round_overlaps", CONFLICT,
        "Бұл ауданда ашық кезең бар: алдымен оны жабыңыз.", "В этом районе уже идёт кампания: сначала закройте её.", "A round is already open in this district: close it first.";
    ROUND_CLOSED = "round_closed", CONFLICT,
        "Кезең жабылған: оның орындары бөлінді.", "Кампания уже закрыта: её места распределены.", "The round is closed already: its places were allocated.";
    ERASURE_ACTIVE = "erasure_active", CONFLICT,
        "Өтініш әлі белсенді немесе бала балабақшада: дербес деректер тек аяқталған өтініштен өшіріледі.", "Заявление ещё действует или ребёнок посещает детский сад: персональные данные удаляются только из завершённого заявления.", "The application is still active, or the child attends the kindergarten: personal data is erased only from an ended application.";
    ALREADY_ERASED = "already_erased", CONFLICT,
        "Бұл өтініштің дербес деректері бұрын өшірілген.", "Персональные данные этого заявления уже удалены.", "This application's personal data is erased already.";
    ROUND_PLACES_CLOSED = "round_places_closed", CONFLICT,
        "Осы күнге арналған кезең жабылды: орынды кейінгі күнге хабарлаңыз немесе жаңа кезең ашуды сұраңыз.", "Кампания на эту дату закрыта: сообщите место на более позднюю дату или попросите открыть новую кампанию.", "The round for that date is closed: report the place for a later date, or ask for a new round.";
    // What-if for administrators (issue 18, §4).
    WHAT_IF_SIZE_INVALID = "what_if_size_invalid", UNPROCESSABLE_ENTITY,
        "Қала өлшемі шектен тыс: 1-ден 5 000-ға дейін тіркеу, 5-тен 200-ге дейін балабақша.", "Размер города вне границ: от 1 до 5 000 заявлений, от 5 до 200 детских садов.", "The city's size is out of bounds: 1 to 5,000 registrations, 5 to 200 kindergartens.";
    WHAT_IF_POLICY_UNKNOWN = "what_if_policy_unknown", UNPROCESSABLE_ENTITY,
        "Салыстыру үшін тізімнен кемінде бір саясатты таңдаңыз.", "Выберите для сравнения хотя бы одну политику из списка.", "Choose at least one policy of the list to compare.";
    WHAT_IF_BUSY = "what_if_busy", CONFLICT,
        "Басқа салыстыру жүріп жатыр: ол аяқталғаннан кейін қайталаңыз.", "Идёт другое сравнение: повторите, когда оно закончится.", "Another comparison is running: try again when it ends.";
    // A year's working-day file, uploaded or pasted (issue 15): the file as a whole, then
    // one row per kind of bad line (`domain::calendar::LineProblem::code`).
    CALENDAR_FILE_TOO_LARGE = "calendar_file_too_large", PAYLOAD_TOO_LARGE,
        "Файл тым үлкен: жыл файлы 32 КБ-тан аспауы керек.", "Файл слишком большой: файл года не больше 32 КБ.", "The file is too large: a year's file is at most 32 KB.";
    CALENDAR_NOT_UTF8 = "calendar_not_utf8", UNPROCESSABLE_ENTITY,
        "Файл UTF-8 кодтауында мәтін емес.", "Файл не является текстом в кодировке UTF-8.", "The file is not UTF-8 text.";
    CALENDAR_EMPTY = "calendar_empty", UNPROCESSABLE_ENTITY,
        "Файлды таңдаңыз немесе оның мәтінін қойыңыз.", "Выберите файл или вставьте его текст.", "Choose a file or paste its text.";
    CALENDAR_LINES_INVALID = "calendar_lines_invalid", UNPROCESSABLE_ENTITY,
        "Файлдың кейбір жолдары қате: әрқайсысы нөмірімен көрсетілген.", "В файле есть неверные строки: каждая указана с её номером.", "Some lines of the file are not valid: each is named with its number.";
    CALENDAR_DATE_MALFORMED = "calendar_date_malformed", UNPROCESSABLE_ENTITY,
        "Жол ЖЖЖЖ-АА-КК түріндегі күннен басталуы керек.", "Строка должна начинаться с даты в виде ГГГГ-ММ-ДД.", "The line must start with a date YYYY-MM-DD.";
    CALENDAR_DATE_OTHER_YEAR = "calendar_date_other_year", UNPROCESSABLE_ENTITY,
        "Күн басқа жылға жатады.", "Дата относится к другому году.", "The date belongs to another year.";
    CALENDAR_WEEKEND_OFF = "calendar_weekend_off", UNPROCESSABLE_ENTITY,
        "Демалыс күні онсыз да демалыс: off тек жұмыс күніне жазылады.", "Выходной и так выходной: off пишется только для будней.", "A weekend day is off anyway: off is only for weekdays.";
    CALENDAR_WEEKDAY_WORK = "calendar_weekday_work", UNPROCESSABLE_ENTITY,
        "Жұмыс күні онсыз да жұмыс күні: work тек сенбі мен жексенбіге жазылады.", "Будний день и так рабочий: work пишется только для субботы и воскресенья.", "A weekday is a working day anyway: work is only for Saturdays and Sundays.";
    CALENDAR_DAY_KIND_MISSING = "calendar_day_kind_missing", UNPROCESSABLE_ENTITY,
        "Күннен кейін off немесе work жазылуы керек.", "После даты должно стоять off или work.", "The date must be followed by off or work.";
    CALENDAR_BREAK_TOO_LONG = "calendar_break_too_long", UNPROCESSABLE_ENTITY,
        "Жылда 14 күннен ұзақ жұмыс күнісіз кезең бар: әр мерзім соған созылар еді.", "В году больше 14 дней подряд без рабочего дня: каждый срок растянулся бы на них.", "The year has more than 14 days in a row without a working day: every deadline would stretch across them.";
    CALENDAR_YEAR_INVALID = "calendar_year_invalid", UNPROCESSABLE_ENTITY,
        "Жыл 2000 мен 2100 аралығындағы сан болуы керек.", "Год должен быть числом от 2000 до 2100.", "The year must be a number from 2000 to 2100.";
    IMPORT_ROW_MALFORMED = "import_row_malformed", UNPROCESSABLE_ENTITY,
        "Жолдағы өрістер саны тақырыптағыдай емес немесе мәтін UTF-8 емес.", "В строке не столько полей, сколько в заголовке, или текст не в UTF-8.", "The row has not as many fields as the header, or is not UTF-8.";
    LEGACY_NUMBER_INVALID = "legacy_number_invalid", UNPROCESSABLE_ENTITY,
        "Бұрынғы нөмір бос, тым ұзын немесе әріп, сан, - / . таңбаларынан басқасы бар.", "Прежний номер пуст, слишком длинный или содержит что-то кроме букв, цифр, - / .", "The old number is empty, too long, or holds other than letters, digits, - / .";
    REGISTERED_AT_MALFORMED = "registered_at_malformed", UNPROCESSABLE_ENTITY,
        "Тіркеу уақыты ЖЖЖЖ-АА-КК СС:ММ немесе RFC 3339 түрінде емес.", "Время регистрации не в виде ГГГГ-ММ-ДД ЧЧ:ММ или RFC 3339.", "The registration time is not YYYY-MM-DD HH:MM or RFC 3339.";
    REGISTERED_AT_IN_FUTURE = "registered_at_in_future", UNPROCESSABLE_ENTITY,
        "Тіркеу уақыты әлі келмеген.", "Время регистрации ещё не наступило.", "The registration time is in the future.";
    REGISTERED_BEFORE_BIRTH = "registered_before_birth", UNPROCESSABLE_ENTITY,
        "Тіркеу уақыты баланың туған күнінен бұрын.", "Время регистрации раньше рождения ребёнка.", "The registration time is before the child's birth.";
    PRIORITY_VERIFIED_INVALID = "priority_verified_invalid", UNPROCESSABLE_ENTITY,
        "priority_verified мәні yes немесе no болуы керек, ал yes санатпен бірге ғана.", "priority_verified должно быть yes или no, а yes только вместе с категорией.", "priority_verified must be yes or no, and yes only with a category.";
    IMPORT_STATUS_NOT_WAITING = "import_status_not_waiting", UNPROCESSABLE_ENTITY,
        "Бұрынғы жүйеде өтініш енді кезекте күтпейді: тек queued күйіндегілер көшіріледі.", "В прежней системе заявление уже не ждёт в очереди: переносятся только заявления в статусе queued.", "The application no longer waits in the earlier system: only queued ones are imported.";
    IMPORT_CHILD_REPEATED = "import_child_repeated", UNPROCESSABLE_ENTITY,
        "Бір бала файлдың бірнеше жолында кездеседі: олардың ешқайсысы алынбайды.", "Один ребёнок встречается в нескольких строках файла: ни одна из них не принята.", "The child appears on more than one row of the file: none of them is taken.";
    LEGACY_NUMBER_REPEATED = "legacy_number_repeated", UNPROCESSABLE_ENTITY,
        "Бұрынғы нөмір ауданның бірнеше жолында кездеседі: олардың ешқайсысы алынбайды.", "Прежний номер встречается в нескольких строках района: ни одна из них не принята.", "The old number appears on more than one row of the district: none of them is taken.";
    IMPORT_FILE_MISSING = "import_file_missing", UNPROCESSABLE_ENTITY,
        "Импорттау файлы таңдалмаған немесе бос.", "Файл для импорта не выбран или пуст.", "No file to import was chosen, or it is empty.";
    IMPORT_FILE_TOO_LARGE = "import_file_too_large", PAYLOAD_TOO_LARGE,
        "Файл бетте қабылдау үшін тым үлкен (64 МБ-тан асады): оны kezek import командасымен импорттаңыз.", "Файл слишком велик для страницы (больше 64 МБ): импортируйте его командой kezek import.", "The file is too large for the page (over 64 MB): import it with the kezek import command.";
    IMPORT_HEADER_INVALID = "import_header_invalid", UNPROCESSABLE_ENTITY,
        "Файлдың бірінші жолы README-де сипатталған тақырып емес: ештеңе оқылмады.", "Первая строка файла не совпадает с заголовком из README: ничего не прочитано.", "The file's first line is not the header the README documents: nothing was read.";
    IMPORT_NOT_CSV = "import_not_csv", UNPROCESSABLE_ENTITY,
        "Файл CSV ретінде оқылмайды.", "Файл не читается как CSV.", "The file cannot be read as CSV.";
    // Reports (issue 17): the date range and the district asked for.
    REPORT_RANGE_REVERSED = "report_range_reversed", UNPROCESSABLE_ENTITY,
        "Кезеңнің басы (from) соңынан (to) кейін тұр.", "Начало периода (from) позже его конца (to).", "The range's start (from) is after its end (to).";
    REPORT_RANGE_TOO_LONG = "report_range_too_long", UNPROCESSABLE_ENTITY,
        "Кезең 5 жылдан аспауы керек.", "Период не может быть длиннее 5 лет.", "The range may be at most 5 years long.";
    DISTRICT_OUT_OF_SCOPE = "district_out_of_scope", FORBIDDEN,
        "Сіз тек өз ауданыңыздың есептерін көре аласыз.", "Вам доступны отчёты только своего района.", "You may see the reports of your own district only.";
    ATTACHMENT_EMPTY = "attachment_empty", UNPROCESSABLE_ENTITY,
        "Файл бос.", "Файл пустой.", "The file is empty.";
    ATTACHMENT_UNSUPPORTED_TYPE = "attachment_unsupported_type", UNSUPPORTED_MEDIA_TYPE,
        "Тек PDF, JPEG немесе PNG файлдары қабылданады (файлдың мазмұны бойынша, атауы бойынша емес).", "Принимаются только файлы PDF, JPEG или PNG (по содержимому файла, а не по имени).", "Only PDF, JPEG or PNG files are accepted (by their content, not their name).";
    ATTACHMENT_POLYGLOT = "attachment_polyglot", UNPROCESSABLE_ENTITY,
        "Файлдың ішінде басқа түрдегі файл бар. Құжатты қайта сканерлеп жіберіңіз.", "Внутри файла есть файл другого типа. Отсканируйте документ заново и отправьте.", "The file holds another kind of file. Scan the document again and send that.";
    ATTACHMENT_TRUNCATED = "attachment_truncated", UNPROCESSABLE_ENTITY,
        "Файл толық емес немесе зақымдалған.", "Файл неполный или повреждён.", "The file is incomplete or damaged.";
    ATTACHMENT_PDF_SCRIPT = "attachment_pdf_script", UNPROCESSABLE_ENTITY,
        "PDF ішінде скрипттер, іске қосу әрекеттері немесе ендірілген файлдар бар.", "PDF содержит скрипты, действия запуска или вложенные файлы.", "The PDF holds scripts, launch actions or embedded files.";
    ATTACHMENT_PDF_ENCRYPTED = "attachment_pdf_encrypted", UNPROCESSABLE_ENTITY,
        "PDF шифрланған. Шифрсыз нұсқасын жіберіңіз.", "PDF зашифрован. Отправьте незашифрованный файл.", "The PDF is encrypted. Send it unencrypted.";
    ATTACHMENT_TOO_LARGE = "attachment_too_large", PAYLOAD_TOO_LARGE,
        "Файл тым үлкен.", "Файл слишком большой.", "The file is too large.";
    ATTACHMENT_TOO_MANY = "attachment_too_many", CONFLICT,
        "Өтінішке бұдан артық файл тіркеуге болмайды.", "К заявлению больше нельзя прикрепить файлы.", "The application holds as many files as allowed.";
    ATTACHMENT_TOTAL_TOO_LARGE = "attachment_total_too_large", PAYLOAD_TOO_LARGE,
        "Өтініштің файлдары бірге шектен асады.", "Файлы заявления вместе превышают допустимый объём.", "The application's files together would pass the limit.";
    ATTACHMENT_KIND_UNKNOWN = "attachment_kind_unknown", UNPROCESSABLE_ENTITY,
        "Құжат түрі белгісіз.", "Вид документа неизвестен.", "The kind of document is not known.";
    ATTACHMENT_KIND_NOT_ACCEPTED = "attachment_kind_not_accepted", UNPROCESSABLE_ENTITY,
        "Өтініште басымдық құқығы мәлімделмеген: бұл құжат түрі қабылданбайды.", "В заявлении не заявлено право на приоритет: этот вид документа не принимается.", "The application claims no priority: this kind of document is not accepted.";
    PRIORITY_DOCUMENT_NOT_ATTACHED = "priority_document_not_attached", CONFLICT,
        "Санат тіркелген құжатты талап етеді: алдымен құжатты сұратыңыз.", "Категория требует прикреплённого документа: сначала запросите документ.", "The category needs an attached document: ask for it first.";
    ATTACHMENT_INFECTED = "attachment_infected", UNPROCESSABLE_ENTITY,
        "Антивирус файлдан зиянды бағдарламаны тапты: файл қабылданбады.", "Антивирус обнаружил в файле вредоносную программу: файл не принят.", "The virus scanner found malware in the file: it is refused.";
    ATTACHMENT_SCANNER_UNAVAILABLE = "attachment_scanner_unavailable", SERVICE_UNAVAILABLE,
        "Файлдарды антивируспен тексеру уақытша қолжетімсіз: файл қабылданбады, кейінірек қайталаңыз.", "Проверка файлов антивирусом временно недоступна: файл не принят, повторите позже.", "The virus scanner is unavailable for now: the file is refused; try again later.";
    DOCUMENT_REASON_MISSING = "document_request_reason_missing", UNPROCESSABLE_ENTITY,
        "Құжатты сұрау үшін ата-ана оқитын себебін жазыңыз (1000 таңбаға дейін).", "Для запроса документа укажите причину, которую прочтёт родитель (до 1000 символов).", "A document request needs a reason the parent will read (up to 1000 characters).";
    DOCUMENT_ALREADY_REQUESTED = "document_already_requested", CONFLICT,
        "Осы түрдегі құжат әлдеқашан сұралған және әлі келмеген.", "Документ этого вида уже запрошен и ещё не получен.", "A document of this kind is already asked for and has not arrived yet.";
}

/// The row of a code the domain names (a bad line of a year's calendar file).
pub fn kind_of_code(code: &str) -> ErrorKind {
    *ALL.iter()
        .find(|kind| kind.code == code)
        .unwrap_or_else(|| panic!("code {code} has no row in the error table"))
}

/// The row for a refusal of a registration.
pub fn refusal_kind(refusal: &Refusal) -> ErrorKind {
    let code = refusal.code();
    *ALL.iter()
        .find(|kind| kind.code == code)
        .unwrap_or_else(|| panic!("refusal code {code} has no row in the error table"))
}

/// An error on its way to the client: the row, the language to say it in, and two optional
/// extras.
///
/// A wrong access code deliberately has no row of its own: it answers exactly like
/// [`NOT_FOUND`], so the answer is no oracle for guessing codes.
#[derive(Debug)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub lang: Lang,
    /// Safe machine text that narrows the error down, such as the name of the offending field.
    /// Never personal data and never a value the client sent.
    pub detail: Option<String>,
    /// When set, the answer carries a `Retry-After` header with this many seconds.
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, lang: Lang) -> ApiError {
        ApiError {
            kind,
            lang,
            detail: None,
            retry_after_secs: None,
        }
    }

    /// Adds machine text, such as a field name, to the body. The caller vouches that it holds
    /// no personal data.
    pub fn with_detail(self, detail: String) -> ApiError {
        ApiError {
            detail: Some(detail),
            ..self
        }
    }

    /// Asks the client to wait this many seconds before trying again (`Retry-After`).
    pub fn retry_after(self, seconds: u64) -> ApiError {
        ApiError {
            retry_after_secs: Some(seconds),
            ..self
        }
    }

    /// Maps a service failure. Storage failures are logged here, with their cause, and
    /// leave as an opaque 500.
    pub fn from_command(error: CommandError, lang: Lang) -> ApiError {
        let kind = match &error {
            CommandError::Refused(refusal) => refusal_kind(refusal),
            CommandError::Attachment(refusal) => kind_of_code(refusal.code()),
            CommandError::NotFound => NOT_FOUND,
            CommandError::Conflict(why) => conflict_kind(why),
            CommandError::Forbidden(_) => FORBIDDEN,
            // The service's own words about the catalog or a setting: no personal data.
            CommandError::Invalid(why) => {
                return ApiError::new(invalid_kind(why), lang).with_detail(why.clone())
            }
            CommandError::Unavailable => UNAVAILABLE,
            CommandError::Busy => return ApiError::new(WRITES_BUSY, lang).retry_after(1),
            CommandError::Throttled(seconds) => {
                return ApiError::new(REGISTRATIONS_LIMITED, lang).retry_after(*seconds)
            }
            CommandError::IdempotencyKeyReused => IDEMPOTENCY_KEY_REUSED,
            CommandError::Storage(cause) => {
                tracing::error!(error = %cause, "storage failure behind an API request");
                INTERNAL
            }
        };
        ApiError::new(kind, lang)
    }
}

/// The row for a conflict the service reports in words (the words are its own, fixed
/// strings; a test holds every one of them to a specific row).
pub fn conflict_kind(why: &str) -> ErrorKind {
    match why {
        "the referral is no longer live" => REFERRAL_NOT_LIVE,
        "the application is no longer in the queue" => APPLICATION_NOT_QUEUED,
        "the application claims no priority" => NO_PRIORITY_CLAIM,
        "the priority claim was already decided" | "the priority claim was already rejected" => {
            PRIORITY_ALREADY_DECIDED
        }
        "the referral was already extended once"
        | "an extension would not lengthen the referral" => ALREADY_EXTENDED,
        "the survey was already answered" => SURVEY_ALREADY_ANSWERED,
        "the application is in no family" => NOT_IN_FAMILY,
        "the district does not extend referrals" => EXTENSION_NOT_ALLOWED,
        "the place is not open" => PLACE_NOT_OPEN,
        "the child is not enrolled in this kindergarten" => CHILD_NOT_ENROLLED,
        "the child's transfer is outstanding" => CHILD_TRANSFER_PENDING,
        "the group is closed" => GROUP_CLOSED,
        "the category exists already" => CATEGORY_EXISTS,
        "the category is retired already" => CATEGORY_RETIRED,
        "the account name is taken" => STAFF_NAME_TAKEN,
        "the account is revoked" => STAFF_REVOKED,
        "the last administrator" => LAST_ADMINISTRATOR,
        crate::service::ROUND_OVERLAPS => ROUND_OVERLAPS,
        crate::service::ROUND_CLOSED => ROUND_CLOSED,
        "the category needs an attached document" => PRIORITY_DOCUMENT_NOT_ATTACHED,
        crate::service::DOCUMENT_ALREADY_REQUESTED => DOCUMENT_ALREADY_REQUESTED,
        crate::service::ROUND_PLACES_CLOSED => ROUND_PLACES_CLOSED,
        crate::service::ERASURE_ACTIVE => ERASURE_ACTIVE,
        crate::service::ALREADY_ERASED => ALREADY_ERASED,
        _ => CONFLICT,
    }
}

/// The row for an invalid catalog change or setting the service reports in words (its own,
/// fixed strings); the rest are the generic `invalid`, with the words as the detail.
pub fn invalid_kind(why: &str) -> ErrorKind {
    if let Some(problem) = crate::domain::calendar::LineProblem::of_words(why) {
        return kind_of_code(problem.code());
    }
    match why {
        crate::domain::referral::POLICY_OUT_OF_RANGE => POLICY_INVALID,
        crate::domain::calendar::YEAR_OUT_OF_RANGE => CALENDAR_YEAR_INVALID,
        crate::service::ROUND_DATE_PAST => ROUND_DATE_PAST,
        crate::service::ROUND_CLOSES_BEFORE => ROUND_CLOSE_INVALID,
        crate::service::ROUND_KINDERGARTEN_UNKNOWN => ROUND_ORDER_INVALID,
        crate::service::DOCUMENT_REASON_MISSING => DOCUMENT_REASON_MISSING,
        _ if why.starts_with("calendar ") && why.contains("without a working day") => {
            CALENDAR_BREAK_TOO_LONG
        }
        _ => INVALID,
    }
}

#[derive(Serialize)]
struct ErrorBody {
    code: &'static str,
    message: &'static str,
    lang: Lang,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.kind.code,
            message: self.kind.message(self.lang),
            lang: self.lang,
            detail: self.detail,
        };
        let mut response = (self.kind.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The router's fallback for a path that matches no route: `not_found` in the client's
/// language, in the same JSON shape as every other error.
pub async fn not_found_fallback(headers: HeaderMap) -> ApiError {
    ApiError::new(NOT_FOUND, Lang::from_headers(&headers))
}

/// The router's fallback for a known path asked with a method it does not serve
/// (`Router::method_not_allowed_fallback`). Axum still adds the `Allow` header.
pub async fn method_not_allowed_fallback(headers: HeaderMap) -> ApiError {
    ApiError::new(METHOD_NOT_ALLOWED, Lang::from_headers(&headers))
}

/// Documents, on every operation of the OpenAPI document, the rows of this table that any
/// handler of its kind can answer, so that a client (or schemathesis, which flagged them as
/// undocumented) finds every status it can get. Applied after the routers are merged:
/// each handler's own annotation lists only its particular answers.
pub fn document_common_errors(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::ResponseBuilder;
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            let parameters = operation.parameters.iter().flatten();
            let with_query = parameters
                .clone()
                .any(|p| p.parameter_in == ParameterIn::Query);
            let with_header = parameters
                .clone()
                .any(|p| p.parameter_in == ParameterIn::Header);
            let with_path = parameters
                .clone()
                .any(|p| p.parameter_in == ParameterIn::Path);
            let mut rows: Vec<(&str, &str)> =
                vec![("500", "internal"), ("503", "unavailable, timeout")];
            if operation.request_body.is_some() {
                rows.extend([
                    ("400", "malformed"),
                    ("413", "payload_too_large"),
                    ("415", "unsupported_media_type"),
                    (
                        "422",
                        "field_not_settable, invalid, or a refusal's own code",
                    ),
                ]);
            }
            if with_query {
                rows.push(("400", "query_invalid"));
            }
            if with_header {
                rows.push(("400", "idempotency_key_invalid"));
            }
            if with_path {
                rows.push(("404", "not_found"));
            }
            if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                rows.extend([
                    ("401", "unauthorized, access_code_required"),
                    ("403", "forbidden"),
                    ("429", "rate_limited"),
                ]);
            }
            let mut by_status: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
            for (status, codes) in rows {
                by_status.entry(status).or_default().push(codes);
            }
            for (status, codes) in by_status {
                // A handler's own description of a status stays: it is the more precise one.
                operation
                    .responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| {
                        let codes = codes.join(", ");
                        ResponseBuilder::new()
                            .description(format!("An error of the table: {codes}"))
                            .build()
                            .into()
                    });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_code_is_unique_and_speaks_three_languages() {
        let mut codes = HashSet::new();
        for kind in ALL {
            assert!(codes.insert(kind.code), "{} twice", kind.code);
            for lang in [Lang::Kk, Lang::Ru, Lang::En] {
                assert!(
                    !kind.message(lang).trim().is_empty(),
                    "{} {lang:?}",
                    kind.code
                );
            }
            assert_ne!(kind.kk, kind.ru, "{}: the Kazakh text is a copy", kind.code);
            assert!(kind.status.is_client_error() || kind.status.is_server_error());
        }
    }

    #[test]
    fn the_kazakh_texts_use_kazakh_letters() {
        let kazakh = "әғқңөұүһі";
        let with_kazakh = ALL
            .iter()
            .filter(|k| k.kk.chars().any(|c| kazakh.contains(c)))
            .count();
        assert!(
            with_kazakh * 2 > ALL.len(),
            "only {with_kazakh} of {} Kazakh texts",
            ALL.len()
        );
    }

    #[test]
    fn every_registration_refusal_has_a_row() {
        use crate::domain::iin::IinError;
        let refusals = [
            Refusal::UnknownDistrict,
            Refusal::ChildIinInvalid(IinError::CheckDigit),
            Refusal::ApplicantIinInvalid(IinError::Length),
            Refusal::BirthDateMalformed,
            Refusal::BirthDateMismatch,
            Refusal::ChildNotBorn,
            Refusal::NotPreschoolAge,
            Refusal::DesiredStartMalformed,
            Refusal::DesiredStartInPast,
            Refusal::NameInvalid,
            Refusal::PhoneInvalid,
            Refusal::EmailInvalid,
            Refusal::AddressInvalid,
            Refusal::RelationInvalid,
            Refusal::TooManyKindergartens,
            Refusal::DuplicateKindergarten,
            Refusal::UnknownKindergarten,
            Refusal::KindergartenNotInDistrict,
            Refusal::LanguageNotOffered,
            Refusal::UnknownPriorityCategory,
            Refusal::PriorityDocumentMissing,
            Refusal::ApplicantIsChild,
            Refusal::AlreadyQueued,
            Refusal::AlreadyEnrolled,
            Refusal::NothingToAmend,
            Refusal::ReferralOutstanding,
            Refusal::MoveToSameDistrict,
            Refusal::NotEnrolled,
            Refusal::TransferToOwnKindergarten,
            Refusal::TransferPending,
            Refusal::FamilySizeInvalid,
            Refusal::FamilyChildRepeated,
            Refusal::TextUnsafe,
        ];
        for refusal in &refusals {
            let kind = refusal_kind(refusal);
            assert_eq!(kind.code, refusal.code());
        }
        assert_eq!(
            refusal_kind(&Refusal::AlreadyQueued).status,
            StatusCode::CONFLICT
        );
        assert_eq!(
            refusal_kind(&Refusal::PhoneInvalid).status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }

    #[test]
    fn every_import_code_has_a_row() {
        for code in crate::import::import_codes() {
            assert_eq!(kind_of_code(code).code, code);
        }
    }

    #[test]
    fn accept_language_picks_the_best_known_language() {
        assert_eq!(Lang::from_accept_language(None), Lang::Ru);
        assert_eq!(Lang::from_accept_language(Some("kk")), Lang::Kk);
        assert_eq!(Lang::from_accept_language(Some("kk-KZ,ru;q=0.8")), Lang::Kk);
        assert_eq!(
            Lang::from_accept_language(Some("de, en;q=0.5, ru;q=0.7")),
            Lang::Ru
        );
        assert_eq!(Lang::from_accept_language(Some("EN-gb")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("fr, de")), Lang::Ru);
        assert_eq!(Lang::from_accept_language(Some("kk;q=0, en")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("ru;q=abc")), Lang::Ru);
    }

    #[test]
    fn a_storage_failure_is_an_opaque_500() {
        let cause = crate::store::StoreError::corrupt_file(std::path::Path::new("/secret/path.db"));
        let error =
            ApiError::from_command(CommandError::Storage(std::sync::Arc::new(cause)), Lang::En);
        assert_eq!(error.kind, INTERNAL);
        assert!(!error.kind.message(Lang::En).contains("secret"));
    }

    async fn body_json(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn the_detail_appears_only_when_set() {
        let plain = ApiError::new(MALFORMED, Lang::En).into_response();
        assert_eq!(plain.status(), StatusCode::BAD_REQUEST);
        assert!(plain.headers().get(header::RETRY_AFTER).is_none());
        let body = body_json(plain).await;
        assert_eq!(body["code"], "malformed");
        assert_eq!(body["lang"], "en");
        assert!(body.get("detail").is_none(), "{body}");

        let detailed = ApiError::new(FIELD_NOT_SETTABLE, Lang::Kk)
            .with_detail("registered_at".to_string())
            .into_response();
        assert_eq!(detailed.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = body_json(detailed).await;
        assert_eq!(body["code"], "field_not_settable");
        assert_eq!(body["detail"], "registered_at");
        assert_eq!(body["message"], FIELD_NOT_SETTABLE.kk);
    }

    #[tokio::test]
    async fn retry_after_becomes_a_header() {
        let response = ApiError::new(RATE_LIMITED, Lang::Ru)
            .retry_after(42)
            .into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "42");
    }

    #[tokio::test]
    async fn the_fallbacks_answer_from_the_table_in_the_clients_language() {
        use axum::routing::get;
        use tower::ServiceExt;
        let app = axum::Router::new()
            .route("/known", get(|| async { "ok" }))
            .fallback(not_found_fallback)
            .method_not_allowed_fallback(method_not_allowed_fallback);
        let request = |method: &str, uri: &str| {
            axum::http::Request::builder()
                .method(method)
                .uri(uri)
                .header("accept-language", "kk")
                .body(axum::body::Body::empty())
                .unwrap()
        };

        let missing = app
            .clone()
            .oneshot(request("GET", "/nowhere"))
            .await
            .unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let body = body_json(missing).await;
        assert_eq!(body["code"], "not_found");
        assert_eq!(body["message"], NOT_FOUND.kk);

        let wrong_method = app.oneshot(request("DELETE", "/known")).await.unwrap();
        assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
        let allow = wrong_method.headers()[header::ALLOW]
            .to_str()
            .unwrap()
            .to_string();
        assert!(allow.contains("GET"), "{allow}");
        assert_eq!(body_json(wrong_method).await["code"], "method_not_allowed");
    }
}
