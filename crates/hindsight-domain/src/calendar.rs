//! Business-day arithmetic: which days a team works, and counting days on them. Due dates count
//! weekdays; review meetings also skip the team's holidays (`meeting.rs`).

use jiff::civil::{Date, Weekday};

/// Monday to Friday.
pub const WEEKDAYS: [Weekday; 5] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
];

/// The date `days` working days after `from` (not counting `from` itself): five business days
/// after a Friday is the next Friday. With no working days at all, calendar days are counted,
/// so that a misconfiguration cannot loop forever.
pub fn add_business_days(from: Date, days: u32, working_days: &[Weekday]) -> Date {
    add_days_where(from, days, |date| {
        working_days.is_empty() || working_days.contains(&date.weekday())
    })
}

/// The date `days` days after `from` (not counting `from`) on which `counts` holds. When it
/// holds on no day for ten years, calendar days are counted instead, so that a calendar
/// without business days cannot loop forever.
pub fn add_days_where(from: Date, days: u32, counts: impl Fn(Date) -> bool) -> Date {
    let mut date = from;
    let mut left = days;
    let mut skipped = 0;
    while left > 0 {
        date = date.tomorrow().unwrap_or(date);
        if counts(date) || skipped > 3660 {
            left -= 1;
            skipped = 0;
        } else {
            skipped += 1;
        }
    }
    date
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn five_business_days_after_a_friday_is_the_next_friday() {
        assert_eq!(
            add_business_days(date(2026, 11, 20), 5, &WEEKDAYS),
            date(2026, 11, 27)
        );
    }

    #[test]
    fn a_weekend_resolution_counts_from_monday() {
        // Saturday 21 November: Monday is the first business day, Friday the fifth.
        assert_eq!(
            add_business_days(date(2026, 11, 21), 1, &WEEKDAYS),
            date(2026, 11, 23)
        );
        assert_eq!(
            add_business_days(date(2026, 11, 21), 5, &WEEKDAYS),
            date(2026, 11, 27)
        );
    }

    #[test]
    fn no_working_days_counts_calendar_days() {
        assert_eq!(
            add_business_days(date(2026, 11, 21), 3, &[]),
            date(2026, 11, 24)
        );
    }
}
