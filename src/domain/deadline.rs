//! A deadline as people read it. Every deadline is kept as the instant it falls due, the end
//! of its last day (the next local midnight); printed as that instant it reads "28.11.2026
//! 00:00", which a parent takes for the 28th. So pages, documents and messages name the last
//! day itself, with its weekday: "to the end of Friday 27.11.2026".

use super::local_date;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};

/// The last local day before `end`, an end of day (the next local midnight).
pub fn last_day(end: DateTime<Utc>) -> NaiveDate {
    local_date(end - Duration::microseconds(1))
}

/// "to the end of Friday 27.11.2026" in Kazakh, Russian and English.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UntilEndOf {
    pub kk: String,
    pub ru: String,
    pub en: String,
}

/// The words for "up to and including `day`", naming its weekday.
pub fn until_end_of(day: NaiveDate) -> UntilEndOf {
    let date = day.format("%d.%m.%Y");
    let (kk, ru_genitive, en) = weekday_names(day.weekday());
    UntilEndOf {
        kk: format!("{date} ({kk}) күнінің соңына дейін"),
        ru: format!("до конца {ru_genitive} {date}"),
        en: format!("to the end of {en} {date}"),
    }
}

/// A weekday in Kazakh, in Russian in the genitive ("до конца пятницы"), and in English.
fn weekday_names(weekday: Weekday) -> (&'static str, &'static str, &'static str) {
    match weekday {
        Weekday::Mon => ("дүйсенбі", "понедельника", "Monday"),
        Weekday::Tue => ("сейсенбі", "вторника", "Tuesday"),
        Weekday::Wed => ("сәрсенбі", "среды", "Wednesday"),
        Weekday::Thu => ("бейсенбі", "четверга", "Thursday"),
        Weekday::Fri => ("жұма", "пятницы", "Friday"),
        Weekday::Sat => ("сенбі", "субботы", "Saturday"),
        Weekday::Sun => ("жексенбі", "воскресенья", "Sunday"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_end_of_a_local_day_names_that_day_and_its_weekday() {
        // 27.11.2026 19:00 UTC is 28.11 00:00 in Astana (UTC+5): the end of Friday the 27th.
        let end = Utc.with_ymd_and_hms(2026, 11, 27, 19, 0, 0).unwrap();
        let day = last_day(end);
        assert_eq!(day, NaiveDate::from_ymd_opt(2026, 11, 27).unwrap());
        let words = until_end_of(day);
        assert_eq!(words.en, "to the end of Friday 27.11.2026");
        assert_eq!(words.ru, "до конца пятницы 27.11.2026");
        assert_eq!(words.kk, "27.11.2026 (жұма) күнінің соңына дейін");
        // One microsecond later is the 28th's.
        assert_eq!(last_day(end + Duration::microseconds(1)).day(), 28);
    }
}
