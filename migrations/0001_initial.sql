-- The registration journal, the catalog it refers to, and the event log.

CREATE TABLE districts (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name_kk TEXT NOT NULL,
    name_ru TEXT NOT NULL,
    -- Comma-separated ISO 639-1 codes of the group languages the district runs.
    languages TEXT NOT NULL,
    -- The journal counter: the next application gets this number. Gapless because it is
    -- incremented in the same transaction (and savepoint) as the insert it numbers.
    next_registration_number INTEGER NOT NULL DEFAULT 1,
    -- Registration times never decrease within a district, even if the clock steps back.
    last_registered_at INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE kindergartens (
    id INTEGER PRIMARY KEY,
    district_id INTEGER NOT NULL REFERENCES districts(id),
    number TEXT NOT NULL,
    name_kk TEXT NOT NULL,
    name_ru TEXT NOT NULL,
    address TEXT NOT NULL
);
CREATE INDEX kindergartens_by_district ON kindergartens(district_id);

CREATE TABLE groups (
    id INTEGER PRIMARY KEY,
    kindergarten_id INTEGER NOT NULL REFERENCES kindergartens(id),
    name TEXT NOT NULL,
    language TEXT NOT NULL,
    born_from TEXT NOT NULL,
    born_to TEXT NOT NULL,
    capacity INTEGER NOT NULL CHECK (capacity >= 0),
    CHECK (born_from <= born_to)
);

-- Configuration, not code: which rights put a child ahead, and what document proves each.
CREATE TABLE priority_categories (
    code TEXT PRIMARY KEY,
    tier INTEGER NOT NULL CHECK (tier IN (0, 1)),
    name_kk TEXT NOT NULL,
    name_ru TEXT NOT NULL,
    document_kk TEXT NOT NULL,
    document_ru TEXT NOT NULL
);

INSERT INTO priority_categories VALUES
 ('military_family', 0,
  'Әскери қызметшілердің балалары',
  'Дети военнослужащих',
  'Әскери қызмет орнынан анықтама',
  'Справка с места военной службы'),
 ('special_state_body_family', 0,
  'Арнаулы мемлекеттік органдар қызметкерлерінің балалары',
  'Дети сотрудников специальных государственных органов',
  'Қызмет орнынан анықтама',
  'Справка с места службы'),
 ('died_in_service_family', 0,
  'Қызметте қаза тапқан немесе хабарсыз кеткен әскери қызметшілер мен қызметкерлердің балалары',
  'Дети военнослужащих и сотрудников, погибших или пропавших без вести при исполнении служебных обязанностей',
  'Қаза тапқаны немесе хабарсыз кеткені туралы құжат',
  'Документ о гибели или безвестном отсутствии'),
 ('orphan', 1,
  'Жетім балалар және ата-анасының қамқорлығынсыз қалған балалар',
  'Дети-сироты и дети, оставшиеся без попечения родителей',
  'Қорғаншылық (қамқоршылық) белгілеу туралы шешім',
  'Решение об установлении опеки (попечительства)'),
 ('child_disability', 1,
  'Мүгедектігі бар балалар және ерекше білім берілуіне қажеттілігі бар балалар',
  'Дети с инвалидностью и дети с особыми образовательными потребностями',
  'Мүгедектік туралы анықтама немесе ПМПК қорытындысы',
  'Справка об инвалидности или заключение ПМПК'),
 ('parent_disability', 1,
  'Ата-анасының біреуі немесе екеуі де мүгедектігі бар адамдар болып табылатын балалар',
  'Дети, один или оба родителя которых являются лицами с инвалидностью',
  'Ата-ананың мүгедектігі туралы анықтама',
  'Справка об инвалидности родителя'),
 ('large_family', 1,
  'Көпбалалы отбасылардың балалары',
  'Дети из многодетных семей',
  'Көпбалалы отбасы мәртебесін растайтын құжат',
  'Документ, подтверждающий статус многодетной семьи');

CREATE TABLE applications (
    id INTEGER PRIMARY KEY,
    district_id INTEGER NOT NULL REFERENCES districts(id),
    registration_number INTEGER NOT NULL CHECK (registration_number > 0),
    -- Microseconds since the Unix epoch, UTC.
    registered_at INTEGER NOT NULL,
    child_iin TEXT NOT NULL,
    child_full_name TEXT NOT NULL,
    child_birth_date TEXT NOT NULL,
    child_sex TEXT NOT NULL,
    applicant_iin TEXT NOT NULL,
    applicant_full_name TEXT NOT NULL,
    applicant_phone TEXT NOT NULL,
    applicant_email TEXT,
    applicant_address TEXT NOT NULL,
    applicant_relation TEXT NOT NULL,
    desired_start TEXT NOT NULL,
    -- JSON array of kindergarten ids in order of preference; NULL means any in the district.
    choices TEXT,
    -- NULL means any language.
    language TEXT,
    priority_category TEXT REFERENCES priority_categories(code),
    priority_document TEXT,
    priority_status TEXT,
    tier INTEGER NOT NULL CHECK (tier IN (0, 1, 2)),
    status TEXT NOT NULL,
    -- 1 while the application holds the child's one place in the queue system.
    active INTEGER NOT NULL CHECK (active IN (0, 1)),
    channel TEXT NOT NULL,
    entered_by TEXT,
    UNIQUE (district_id, registration_number)
);
-- A child has at most one active application in any district. The service checks first for
-- a clear refusal; this index makes it impossible whatever the service does.
CREATE UNIQUE INDEX one_active_application_per_child ON applications(child_iin) WHERE active = 1;

-- The append-only, hash-chained journal of every change of state.
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    recorded_at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),
    hash BLOB NOT NULL CHECK (length(hash) = 32)
);

-- Append-only by construction. Someone with the file can still drop these; the hash chain
-- is what makes that visible (`kezek verify`).
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
