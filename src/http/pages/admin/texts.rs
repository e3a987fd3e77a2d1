//! The administrator's pages' words, in Kazakh and Russian.
//! The words every audience shares are in `pages::texts`, re-exported here so that this
//! audience's code reads all its words as `texts::NAME`.

pub use crate::http::pages::texts::*;

texts! {
    ACCESS_LOG_TITLE = "Қызметкерлердің қарау журналы", "Журнал просмотров сотрудниками";
    ACCESS_LOG_INTRO = "Қызметкер жеке деректерді әр қарағаны: кім, қашан, қандай өтініш. Деректердің өзі жазылмайды. Журналды тек толықтыруға болады, әр жазба алдыңғысымен хэш арқылы байланысқан; kezek verify тізбекті тексереді.",
                       "Каждый просмотр личных данных сотрудником: кто, когда, какое заявление. Сами данные не записываются. Журнал только дополняется, каждая запись связана с предыдущей хэшем; kezek verify проверяет цепочку.";
    FIELD_ACCOUNT = "Қызметкер аккаунты", "Учётная запись сотрудника";
    FIELD_APPLICATION = "Өтініш нөмірі", "Номер заявления";
    ENTRY = "№", "№";
    ACCESS_LOG_EMPTY = "Жазба жоқ.", "Записей нет.";
}
