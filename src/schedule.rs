//! Schedules: EventBridge Scheduler's six-field cron, IANA time zones, and
//! when a workload's scheduled stop and start fire next. Pure: no I/O (the
//! time zone database is compiled in, see [`timezone`]), and "now" is always
//! a parameter; [`now`] is the one clock its callers read.
//!
//! The dialect is AWS's (EventBridge Scheduler `cron(...)`), not Unix cron:
//!
//! | field        | values              | wildcards          |
//! |--------------|---------------------|--------------------|
//! | minutes      | 0-59                | `, - * /`          |
//! | hours        | 0-23                | `, - * /`          |
//! | day-of-month | 1-31                | `, - * ? / L W`    |
//! | month        | 1-12 or JAN-DEC     | `, - * /`          |
//! | day-of-week  | 1-7 or SUN-SAT      | `, - * ? L #`      |
//! | year         | 1970-2199           | `, - * /`          |
//!
//! Exactly one of day-of-month and day-of-week is `?`. `L` alone is the last
//! day of the month (day-of-month) or Saturday (day-of-week); `LW` the last
//! weekday of the month; `15W` the weekday nearest the 15th, within the
//! month; `6L` the last Friday of the month; `3#2` the second Tuesday.
//! `L`, `W` and `#` stand alone in their field (no lists or ranges with
//! them), ranges go upwards (`MON-FRI`, not `FRI-MON`): tierctl refuses
//! what it cannot compute exactly as AWS does.
//!
//! Time zones follow EventBridge Scheduler's daylight saving time rules: a
//! local time that does not exist (spring forward, 02:30 in Berlin on the
//! last Sunday of March) is skipped that day; a local time that occurs
//! twice (fall back) runs once, at its first occurrence.

use std::collections::VecDeque;
use std::fmt;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use schemars::JsonSchema;
use serde::Serialize;

use crate::plan::Action;
use crate::spec;

/// First year the year field accepts.
pub const MIN_YEAR: i16 = 1970;
/// Last year the year field accepts; no schedule fires after it.
pub const MAX_YEAR: i16 = 2199;
/// How far [`check`] simulates a schedule to find out-of-order runs.
pub const SIMULATED_DAYS: i64 = 400;
/// At most this many runs per action are simulated (an every-minute cron
/// would otherwise make half a million).
const SIMULATED_RUNS: usize = 20_000;

/// Fixes "now" for `plan` and `validate` (RFC 3339, e.g.
/// `2027-03-24T12:00:00Z`). For tests only: the schedules AWS runs do not
/// look at it.
pub const NOW_ENV: &str = "TIERCTL_NOW";

/// [`NOW_ENV`] is set but is no RFC 3339 time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{NOW_ENV}=`{value}` is not an RFC 3339 time such as `2027-03-24T12:00:00Z` ({NOW_ENV} is for tests only)"
)]
pub struct ClockError {
    /// What it was set to.
    pub value: String,
}

/// The current time, or [`NOW_ENV`] when it is set: the one function of
/// this module that looks outside (the environment and the system clock).
pub fn now() -> Result<Timestamp, ClockError> {
    match std::env::var(NOW_ENV) {
        Ok(value) if !value.is_empty() => value
            .trim()
            .parse::<Timestamp>()
            .map_err(|_| ClockError { value }),
        _ => Ok(Timestamp::now()),
    }
}

/// One of the six fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// 1st: 0-59.
    Minutes,
    /// 2nd: 0-23.
    Hours,
    /// 3rd: 1-31, `?`, `L`, `W`.
    DayOfMonth,
    /// 4th: 1-12 or JAN-DEC.
    Month,
    /// 5th: 1-7 or SUN-SAT, `?`, `L`, `#`.
    DayOfWeek,
    /// 6th: 1970-2199.
    Year,
}

impl Field {
    /// The field's name, as AWS's documentation spells it.
    pub fn name(self) -> &'static str {
        match self {
            Field::Minutes => "minutes",
            Field::Hours => "hours",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
            Field::Year => "year",
        }
    }

    fn ordinal(self) -> &'static str {
        match self {
            Field::Minutes => "1st",
            Field::Hours => "2nd",
            Field::DayOfMonth => "3rd",
            Field::Month => "4th",
            Field::DayOfWeek => "5th",
            Field::Year => "6th",
        }
    }

    fn bounds(self) -> (u32, u32) {
        match self {
            Field::Minutes => (0, 59),
            Field::Hours => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (1, 7),
            Field::Year => (MIN_YEAR as u32, MAX_YEAR as u32),
        }
    }

    fn names(self) -> &'static [&'static str] {
        match self {
            Field::Month => &[
                "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
            ],
            Field::DayOfWeek => &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
            _ => &[],
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} field)", self.name(), self.ordinal())
    }
}

/// Why a cron expression is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    /// `cron(...)` around the fields.
    #[error(
        "write the six fields without `cron(...)`: `{inner}` (tierctl adds `cron(...)` when it writes the schedule to AWS)"
    )]
    Wrapped {
        /// The fields inside the wrapper.
        inner: String,
    },
    /// `rate(...)` or `at(...)`.
    #[error(
        "`{kind}(...)` expressions are not supported: a schedule is six cron fields, `minutes hours day-of-month month day-of-week year`, e.g. `0 19 ? * MON-FRI *`"
    )]
    NotCron {
        /// `rate` or `at`.
        kind: &'static str,
    },
    /// Not six fields.
    #[error(
        "has {found} field(s); EventBridge Scheduler cron has six: `minutes hours day-of-month month day-of-week year`, e.g. `0 19 ? * MON-FRI *`"
    )]
    FieldCount {
        /// How many there were.
        found: usize,
    },
    /// One field is wrong.
    #[error("{field} `{text}`: {reason}")]
    Field {
        /// Which field.
        field: Field,
        /// Its text.
        text: String,
        /// Why.
        reason: String,
    },
    /// Day-of-month and day-of-week are both `?` or neither is.
    #[error(
        "day-of-month `{dom}` and day-of-week `{dow}`: exactly one of them must be `?` (AWS does not combine them), e.g. `0 19 ? * MON-FRI *` or `0 19 1 * ? *`"
    )]
    Days {
        /// The day-of-month field.
        dom: String,
        /// The day-of-week field.
        dow: String,
    },
}

/// Why a time zone is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimezoneError {
    /// Not in the IANA database.
    #[error(
        "`{name}` is not an IANA time zone name (e.g. `Europe/Berlin`, `America/New_York`, `UTC`)"
    )]
    Unknown {
        /// The name given.
        name: String,
    },
    /// Known, but spelled with other capitals than the database's.
    #[error("time zone `{name}` is spelled `{canonical}` in the IANA database")]
    Spelling {
        /// The name given.
        name: String,
        /// The database's spelling.
        canonical: String,
    },
}

/// A spec's schedule that cannot be used, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// `schedule.timezone`.
    #[error("schedule.timezone: {0}")]
    Timezone(#[source] TimezoneError),
    /// `schedule.stop.cron` or `schedule.start.cron`.
    #[error("schedule.{action}.cron: {source}")]
    Cron {
        /// Which one.
        action: &'static str,
        /// Why.
        #[source]
        source: CronError,
    },
}

/// An IANA time zone from the database compiled into tierctl (so results do
/// not depend on the host's `/usr/share/zoneinfo`). Names are case-sensitive,
/// as AWS's are.
pub fn timezone(name: &str) -> Result<TimeZone, TimezoneError> {
    // A name with a leading `/` or `..` is no IANA name; the bundled
    // database never reads files, so this is only about the answer.
    let unknown = || TimezoneError::Unknown {
        name: name.to_string(),
    };
    if name.is_empty() || name.trim() != name {
        return Err(unknown());
    }
    let tz = TimeZone::get(name).map_err(|_| unknown())?;
    match tz.iana_name() {
        Some(canonical) if canonical == name => Ok(tz),
        Some(canonical) if canonical.eq_ignore_ascii_case(name) => Err(TimezoneError::Spelling {
            name: name.to_string(),
            canonical: canonical.to_string(),
        }),
        // An alias resolving to another canonical name (`US/Eastern`) is
        // still a valid IANA name.
        Some(_) => Ok(tz),
        None => Err(unknown()),
    }
}

/// What the day fields say (exactly one of them is not `?`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Days {
    /// Days of the month, bit `d` for day `d`.
    OfMonth(u32),
    /// `L`: the last day of the month.
    LastDay,
    /// `LW`: the last weekday (Monday-Friday) of the month.
    LastWeekday,
    /// `15W`: the weekday nearest that day, in the same month.
    NearestWeekday(i8),
    /// Days of the week, bit `d` for 1 = Sunday ... 7 = Saturday.
    OfWeek(u8),
    /// `6L`: the last such day of the week in the month.
    LastOfMonth(u8),
    /// `3#2`: the nth (1-5) such day of the week in the month.
    Nth(u8, i8),
}

/// A parsed EventBridge Scheduler cron expression (six fields, no wrapper).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    source: String,
    minutes: u64,
    hours: u32,
    days: Days,
    months: u16,
    /// Bit `y - 1970` per year, in four words.
    years: [u64; 4],
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Cron {
    /// Parses the six fields, e.g. `0 19 ? * MON-FRI *`.
    pub fn parse(text: &str) -> Result<Cron, CronError> {
        let trimmed = text.trim();
        let lower = trimmed.to_ascii_lowercase();
        if lower.starts_with("cron(") {
            let inner = trimmed[5..].trim_end_matches(')').trim().to_string();
            return Err(CronError::Wrapped { inner });
        }
        for kind in ["rate", "at"] {
            if lower.starts_with(&format!("{kind}(")) {
                return Err(CronError::NotCron { kind });
            }
        }
        let parts: Vec<&str> = trimmed.split_whitespace().collect();
        if parts.len() != 6 {
            return Err(CronError::FieldCount { found: parts.len() });
        }
        let field_err = |field: Field, text: &str, reason: String| CronError::Field {
            field,
            text: text.to_string(),
            reason,
        };
        let minutes = list(Field::Minutes, parts[0])?;
        let hours = list(Field::Hours, parts[1])? as u32;
        let months = list(Field::Month, parts[3])? as u16;
        let year_bits = |text: &str| -> Result<[u64; 4], CronError> {
            let mut out = [0u64; 4];
            for item in text.split(',') {
                for y in item_values(Field::Year, text, item)? {
                    let i = (y - MIN_YEAR as u32) as usize;
                    out[i / 64] |= 1 << (i % 64);
                }
            }
            Ok(out)
        };
        let years = year_bits(parts[5])?;
        let (dom, dow) = (parts[2], parts[4]);
        let days = match (dom == "?", dow == "?") {
            (true, false) => week_days(dow)?,
            (false, true) => month_days(dom)?,
            _ => {
                return Err(CronError::Days {
                    dom: dom.to_string(),
                    dow: dow.to_string(),
                });
            }
        };
        if let Days::OfMonth(bits) = days
            && months != 0
        {
            // A day that no selected month has (`30 2`, `31 APR,JUN`).
            let longest = (1..=12)
                .filter(|m| months & (1 << m) != 0)
                .map(|m| month_length(m as i8))
                .max()
                .unwrap_or(31);
            let (bits, fits) = (u64::from(bits), (1u64 << (longest + 1)) - 1);
            if bits & !fits != 0 && bits & fits == 0 {
                return Err(field_err(
                    Field::DayOfMonth,
                    dom,
                    format!("no selected month has that day (the longest has {longest} days)"),
                ));
            }
        }
        Ok(Cron {
            source: parts.join(" "),
            minutes,
            hours,
            days,
            months,
            years,
        })
    }

    /// The expression, fields separated by one space.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Every run strictly after `after`, in order, in time zone `tz`; ends
    /// after 2199 (the last year AWS accepts), so it is always finite.
    pub fn runs_after<'a>(&'a self, tz: &TimeZone, after: Timestamp) -> Runs<'a> {
        let date = tz.to_datetime(after).date();
        Runs {
            cron: self,
            tz: tz.clone(),
            after,
            next_date: self.first_day_from(date),
            buf: VecDeque::new(),
        }
    }

    /// The first run strictly after `after`, if there is one.
    pub fn next_after(&self, tz: &TimeZone, after: Timestamp) -> Option<Timestamp> {
        self.runs_after(tz, after).next()
    }

    fn has_year(&self, y: i16) -> bool {
        if !(MIN_YEAR..=MAX_YEAR).contains(&y) {
            return false;
        }
        let i = (y - MIN_YEAR) as usize;
        self.years[i / 64] & (1 << (i % 64)) != 0
    }

    fn has_month(&self, m: i8) -> bool {
        self.months & (1 << m) != 0
    }

    fn day_matches(&self, d: Date) -> bool {
        let day = d.day();
        let last = d.days_in_month();
        let dow = d.weekday().to_sunday_one_offset() as u8;
        match self.days {
            Days::OfMonth(bits) => bits & (1 << day) != 0,
            Days::LastDay => day == last,
            Days::LastWeekday => {
                let l = d.last_of_month();
                let lw = match l.weekday() {
                    Weekday::Saturday => last - 1,
                    Weekday::Sunday => last - 2,
                    _ => last,
                };
                day == lw
            }
            Days::NearestWeekday(n) => {
                if n > last {
                    return false;
                }
                let Ok(target) = Date::new(d.year(), d.month(), n) else {
                    return false;
                };
                let nearest = match target.weekday() {
                    Weekday::Saturday if n == 1 => 3,
                    Weekday::Saturday => n - 1,
                    Weekday::Sunday if n == last => n - 2,
                    Weekday::Sunday => n + 1,
                    _ => n,
                };
                day == nearest
            }
            Days::OfWeek(bits) => bits & (1 << dow) != 0,
            Days::LastOfMonth(w) => dow == w && day + 7 > last,
            Days::Nth(w, n) => dow == w && (day - 1) / 7 + 1 == n,
        }
    }

    /// The first day on or after `d` whose year, month and day match.
    fn first_day_from(&self, mut d: Date) -> Option<Date> {
        loop {
            let y = d.year();
            if y > MAX_YEAR {
                return None;
            }
            if !self.has_year(y) {
                d = Date::new(y.checked_add(1)?, 1, 1).ok()?;
                continue;
            }
            if !self.has_month(d.month()) {
                d = d.last_of_month().tomorrow().ok()?;
                continue;
            }
            if self.day_matches(d) {
                return Some(d);
            }
            d = d.tomorrow().ok()?;
        }
    }
}

/// The runs of one expression: see [`Cron::runs_after`].
#[derive(Debug, Clone)]
pub struct Runs<'a> {
    cron: &'a Cron,
    tz: TimeZone,
    after: Timestamp,
    next_date: Option<Date>,
    buf: VecDeque<Timestamp>,
}

impl Iterator for Runs<'_> {
    type Item = Timestamp;

    fn next(&mut self) -> Option<Timestamp> {
        loop {
            if let Some(t) = self.buf.pop_front() {
                return Some(t);
            }
            let day = self.next_date?;
            let mut times = Vec::new();
            for h in (0..24).filter(|h| self.cron.hours & (1 << h) != 0) {
                for m in (0..60).filter(|m| self.cron.minutes & (1u64 << m) != 0) {
                    let local = day.at(h as i8, m as i8, 0, 0);
                    if let Some(t) = resolve(&self.tz, local)
                        && t > self.after
                    {
                        times.push(t);
                    }
                }
            }
            times.sort();
            times.dedup();
            self.buf.extend(times);
            self.next_date = day
                .tomorrow()
                .ok()
                .and_then(|d| self.cron.first_day_from(d));
        }
    }
}

/// The instant of a local time as EventBridge Scheduler runs it: `None`
/// when the local time does not exist (skipped), the first occurrence when
/// it occurs twice (runs once).
pub fn resolve(tz: &TimeZone, local: DateTime) -> Option<Timestamp> {
    let offset = match tz.to_ambiguous_timestamp(local).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset,
        AmbiguousOffset::Gap { .. } => return None,
        AmbiguousOffset::Fold { before, .. } => before,
    };
    offset.to_timestamp(local).ok()
}

fn month_length(m: i8) -> i8 {
    match m {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn bad(field: Field, text: &str, reason: impl Into<String>) -> CronError {
    CronError::Field {
        field,
        text: text.to_string(),
        reason: reason.into(),
    }
}

/// A comma-separated list of values, ranges and steps as a bit set.
fn list(field: Field, text: &str) -> Result<u64, CronError> {
    let mut bits = 0u64;
    for item in text.split(',') {
        for v in item_values(field, text, item)? {
            bits |= 1 << v;
        }
    }
    Ok(bits)
}

/// One list item: `*`, `5`, `MON`, `1-5`, `*/10`, `1/10`, `10-30/5`.
fn item_values(field: Field, whole: &str, item: &str) -> Result<Vec<u32>, CronError> {
    let (lo, hi) = field.bounds();
    if item.is_empty() {
        return Err(bad(
            field,
            whole,
            "empty list item (two commas, or a comma at an end)",
        ));
    }
    if item == "?" {
        return Err(bad(
            field,
            whole,
            match field {
                Field::DayOfMonth | Field::DayOfWeek => "`?` stands alone in its field",
                _ => "`?` is only for day-of-month or day-of-week",
            },
        ));
    }
    let (range, step) = match item.split_once('/') {
        Some((r, s)) => {
            let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            let step: u32 = s.parse().ok().filter(|_| digits).ok_or_else(|| {
                bad(
                    field,
                    whole,
                    format!("step `{s}` after `/` must be a number"),
                )
            })?;
            if step == 0 || step > hi - lo + 1 {
                return Err(bad(
                    field,
                    whole,
                    format!("step {step} must be 1-{}", hi - lo + 1),
                ));
            }
            (r, Some(step))
        }
        None => (item, None),
    };
    let (start, end) = if range == "*" {
        (lo, hi)
    } else if let Some((a, b)) = range.split_once('-') {
        let (a, b) = (value(field, whole, a)?, value(field, whole, b)?);
        if a > b {
            return Err(bad(
                field,
                whole,
                format!(
                    "range `{range}` goes backwards; write it from the lower to the higher value (or as a list)"
                ),
            ));
        }
        (a, b)
    } else {
        let a = value(field, whole, range)?;
        // `5/15`: from 5 to the end, every 15.
        (a, if step.is_some() { hi } else { a })
    };
    Ok((start..=end).step_by(step.unwrap_or(1) as usize).collect())
}

/// A number or a name within the field's bounds.
fn value(field: Field, whole: &str, text: &str) -> Result<u32, CronError> {
    let (lo, hi) = field.bounds();
    let names = field.names();
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(i as u32 + 1);
    }
    let special = match field {
        Field::DayOfMonth => " (`L` and `W` stand alone in day-of-month)",
        Field::DayOfWeek => " (`L` and `#` stand alone in day-of-week)",
        _ => "",
    };
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let n: u32 = text.parse().ok().filter(|_| digits).ok_or_else(|| {
        let what = match field {
            Field::Month => format!("a month {lo}-{hi} or JAN-DEC"),
            Field::DayOfWeek => format!("a day {lo}-{hi} (1 = SUN) or SUN-SAT"),
            _ => format!("a number {lo}-{hi}"),
        };
        bad(field, whole, format!("`{text}` is not {what}{special}"))
    })?;
    if n < lo || n > hi {
        return Err(bad(field, whole, format!("{n} is outside {lo}-{hi}")));
    }
    Ok(n)
}

fn month_days(text: &str) -> Result<Days, CronError> {
    let f = Field::DayOfMonth;
    let upper = text.to_ascii_uppercase();
    if upper == "L" {
        return Ok(Days::LastDay);
    }
    if upper == "LW" {
        return Ok(Days::LastWeekday);
    }
    if let Some(n) = upper.strip_suffix('W') {
        if n.contains([',', '-', '/', '*']) {
            return Err(bad(f, text, "`W` takes one day, e.g. `15W`"));
        }
        return Ok(Days::NearestWeekday(value(f, text, n)? as i8));
    }
    if upper.contains('L') || upper.contains('W') {
        return Err(bad(f, text, "`L` and `W` stand alone: `L`, `LW` or `15W`"));
    }
    if upper.contains('#') {
        return Err(bad(
            f,
            text,
            "`#` is for day-of-week (`3#2` = the second Tuesday)",
        ));
    }
    Ok(Days::OfMonth(list(f, text)? as u32))
}

fn week_days(text: &str) -> Result<Days, CronError> {
    let f = Field::DayOfWeek;
    let upper = text.to_ascii_uppercase();
    if upper == "L" {
        return Ok(Days::OfWeek(1 << 7));
    }
    if let Some((d, n)) = upper.split_once('#') {
        if d.contains([',', '-', '/', '*']) || n.contains([',', '-', '/', '*']) {
            return Err(bad(
                f,
                text,
                "`#` stands alone: one day and which one in the month, e.g. `3#2` (the second Tuesday)",
            ));
        }
        let day = value(f, text, d)? as u8;
        let nth: i8 = n
            .parse()
            .ok()
            .filter(|n| (1..=5).contains(n))
            .ok_or_else(|| {
                bad(
                    f,
                    text,
                    format!("after `#` comes which one in the month, 1-5, not `{n}`"),
                )
            })?;
        return Ok(Days::Nth(day, nth));
    }
    // `L` for "last" ends a day; `SUN-SAT` names contain no `L`.
    if let Some(d) = upper.strip_suffix('L') {
        if d.contains([',', '-', '/', '*']) {
            return Err(bad(
                f,
                text,
                "`L` takes one day, e.g. `6L` (the last Friday of the month)",
            ));
        }
        return Ok(Days::LastOfMonth(value(f, text, d)? as u8));
    }
    if upper.contains('W') && !upper.contains("WED") {
        return Err(bad(f, text, "`W` is for day-of-month (`15W`)"));
    }
    Ok(Days::OfWeek(list(f, text)? as u8))
}

/// A workload's schedule, parsed.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The IANA name.
    pub timezone_name: String,
    /// The zone.
    pub tz: TimeZone,
    /// The stop expression.
    pub stop: Option<Cron>,
    /// The start expression.
    pub start: Option<Cron>,
    /// The scaling profile at start.
    pub profile: Option<String>,
}

/// Parses a spec's schedule; the first problem found, naming its field.
pub fn compile(s: &spec::Schedule) -> Result<Compiled, ScheduleError> {
    let tz = timezone(&s.timezone).map_err(ScheduleError::Timezone)?;
    let cron = |action: &'static str, text: Option<&str>| {
        text.map(Cron::parse)
            .transpose()
            .map_err(|source| ScheduleError::Cron { action, source })
    };
    Ok(Compiled {
        timezone_name: s.timezone.clone(),
        tz,
        stop: cron("stop", s.stop.as_ref().map(|c| c.cron.as_str()))?,
        start: cron("start", s.start.as_ref().map(|c| c.cron.as_str()))?,
        profile: s.start.as_ref().and_then(|c| c.profile.clone()),
    })
}

/// One scheduled run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fire {
    /// Stop or start.
    pub action: Action,
    /// When, in UTC.
    pub at: Timestamp,
    /// The local time in the schedule's zone.
    pub local: DateTime,
    /// The zone's offset then.
    pub offset: Offset,
    /// The zone's abbreviation then (`CET`, `CEST`, `EST`...).
    pub abbreviation: String,
}

impl Fire {
    fn new(action: Action, tz: &TimeZone, at: Timestamp) -> Fire {
        let info = tz.to_offset_info(at);
        Fire {
            action,
            at,
            local: info.offset().to_datetime(at),
            offset: info.offset(),
            abbreviation: info.abbreviation().to_string(),
        }
    }

    /// `2026-03-20 19:00 CET (+01:00)`.
    pub fn local_text(&self) -> String {
        format!(
            "{} {} ({})",
            minute_text(self.local),
            self.abbreviation,
            offset_text(self.offset)
        )
    }

    /// `2026-03-20 18:00 UTC`.
    pub fn utc_text(&self) -> String {
        format!(
            "{} UTC",
            minute_text(self.at.to_zoned_datetime(TimeZone::UTC).datetime())
        )
    }
}

/// `2026-03-20 19:00`.
pub fn minute_text(dt: DateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute()
    )
}

/// `+01:00`, `-05:00`, `+05:45`.
pub fn offset_text(o: Offset) -> String {
    let s = o.seconds();
    let sign = if s < 0 { '-' } else { '+' };
    let s = s.unsigned_abs();
    format!("{sign}{:02}:{:02}", s / 3600, s % 3600 / 60)
}

/// `2026-03-20T18:00:00Z`.
pub fn utc_rfc3339(t: Timestamp) -> String {
    let dt = t.to_zoned_datetime(TimeZone::UTC).datetime();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

impl Compiled {
    fn cron(&self, action: Action) -> Option<&Cron> {
        match action {
            Action::Stop => self.stop.as_ref(),
            Action::Start => self.start.as_ref(),
        }
    }

    /// The next run of `action` strictly after `now`.
    pub fn next(&self, action: Action, now: Timestamp) -> Option<Fire> {
        self.cron(action)?
            .next_after(&self.tz, now)
            .map(|t| Fire::new(action, &self.tz, t))
    }

    /// The next `n` runs of both actions after `now`, in order (a stop
    /// before a start in the same minute).
    pub fn next_runs(&self, now: Timestamp, n: usize) -> Vec<Fire> {
        let mut stops = self
            .stop
            .as_ref()
            .map(|c| c.runs_after(&self.tz, now))
            .into_iter()
            .flatten()
            .peekable();
        let mut starts = self
            .start
            .as_ref()
            .map(|c| c.runs_after(&self.tz, now))
            .into_iter()
            .flatten()
            .peekable();
        let mut out = Vec::new();
        while out.len() < n {
            let action = match (stops.peek(), starts.peek()) {
                (Some(a), Some(b)) if a <= b => Action::Stop,
                (Some(_), None) => Action::Stop,
                (_, Some(_)) => Action::Start,
                (None, None) => break,
            };
            let t = match action {
                Action::Stop => stops.next(),
                Action::Start => starts.next(),
            };
            if let Some(t) = t {
                out.push(Fire::new(action, &self.tz, t));
            }
        }
        out
    }

    /// Every run of both actions in `(now, until]`, in order, at most
    /// [`SIMULATED_RUNS`] per action.
    ///
    /// When an action hits that bound, the window ends at its last run, so
    /// the other action's later runs do not look like runs in a row.
    fn runs_until(&self, now: Timestamp, mut until: Timestamp) -> Vec<(Timestamp, Action)> {
        let mut all = Vec::new();
        for action in [Action::Stop, Action::Start] {
            if let Some(c) = self.cron(action) {
                let runs: Vec<Timestamp> = c
                    .runs_after(&self.tz, now)
                    .take_while(|t| *t <= until)
                    .take(SIMULATED_RUNS)
                    .collect();
                if runs.len() == SIMULATED_RUNS
                    && let Some(last) = runs.last()
                {
                    until = until.min(*last);
                }
                all.extend(runs.into_iter().map(|t| (t, action)));
            }
        }
        all.retain(|(t, _)| *t <= until);
        all.sort();
        all
    }

    /// The zone's next offset change (daylight saving time) after `now`,
    /// within `days` days.
    pub fn next_change(&self, now: Timestamp, days: i64) -> Option<Change> {
        let limit = now
            .checked_add(jiff::SignedDuration::from_hours(24 * days))
            .ok()?;
        let tr = self.tz.following(now).next()?;
        let at = tr.timestamp();
        if at > limit {
            return None;
        }
        let before = self
            .tz
            .to_offset_info(at.checked_sub(jiff::SignedDuration::from_secs(1)).ok()?);
        Some(Change {
            at,
            before: before.offset(),
            before_abbreviation: before.abbreviation().to_string(),
            after: tr.offset(),
            after_abbreviation: tr.abbreviation().to_string(),
            local_before: before.offset().to_datetime(at),
        })
    }
}

/// A change of a zone's offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// When, in UTC.
    pub at: Timestamp,
    /// The offset until then.
    pub before: Offset,
    /// Its abbreviation.
    pub before_abbreviation: String,
    /// The offset from then on.
    pub after: Offset,
    /// Its abbreviation.
    pub after_abbreviation: String,
    /// The local wall-clock time the change happens at, in the old offset (`02:00` CET).
    pub local_before: DateTime,
}

impl Change {
    /// `2027-03-28 02:00 CET (+01:00) becomes 03:00 CEST (+02:00)`.
    pub fn text(&self) -> String {
        let after = self.after.to_datetime(self.at);
        format!(
            "{} {} ({}) becomes {:02}:{:02} {} ({})",
            minute_text(self.local_before),
            self.before_abbreviation,
            offset_text(self.before),
            after.hour(),
            after.minute(),
            self.after_abbreviation,
            offset_text(self.after)
        )
    }
}

/// A finding of [`check`] about a schedule that parses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// An expression that never fires after now (an error).
    NeverFires {
        /// Which one.
        action: Action,
    },
    /// Stop and start fire in the same minute (a warning).
    SameMinute {
        /// The local time of the first such minute.
        local: String,
    },
    /// Two runs of one action without the other between (a warning).
    InARow {
        /// The action that repeats.
        action: Action,
        /// The local time of the repeated run.
        local: String,
        /// The local time of the run before it.
        previous: String,
    },
}

impl Finding {
    /// Whether this makes the spec unusable.
    pub fn is_error(&self) -> bool {
        matches!(self, Finding::NeverFires { .. })
    }

    /// The field the finding is about (`stop`, `start`, or the schedule).
    pub fn action(&self) -> Option<Action> {
        match self {
            Finding::NeverFires { action } | Finding::InARow { action, .. } => Some(*action),
            Finding::SameMinute { .. } => None,
        }
    }

    /// Plain-language message.
    pub fn message(&self) -> String {
        match self {
            Finding::NeverFires { action } => format!(
                "the {} expression never fires again (its last run is in the past, or no date matches it)",
                action.as_str()
            ),
            Finding::SameMinute { local } => format!(
                "stop and start fire in the same minute, first on {local}: which one runs last is not defined"
            ),
            Finding::InARow {
                action,
                local,
                previous,
            } => {
                let other = match action {
                    Action::Stop => "start",
                    Action::Start => "stop",
                };
                format!(
                    "two {}s in a row without a {other} between: {previous}, then {local}; a {other} is missing before the second (check that the two expressions pair up)",
                    action.as_str()
                )
            }
        }
    }
}

/// Simulates the next [`SIMULATED_DAYS`] days of a schedule: expressions
/// that never fire again, stop and start in one minute, and (when both are
/// set) two stops or two starts in a row. At most one finding of each kind.
pub fn check(c: &Compiled, now: Timestamp) -> Vec<Finding> {
    let mut out = Vec::new();
    for action in [Action::Stop, Action::Start] {
        if let Some(cron) = c.cron(action)
            && cron.next_after(&c.tz, now).is_none()
        {
            out.push(Finding::NeverFires { action });
        }
    }
    if c.stop.is_none() || c.start.is_none() || !out.is_empty() {
        return out;
    }
    let Ok(until) = now.checked_add(jiff::SignedDuration::from_hours(24 * SIMULATED_DAYS)) else {
        return out;
    };
    let runs = c.runs_until(now, until);
    let local = |t: Timestamp| Fire::new(Action::Stop, &c.tz, t).local_text();
    if let Some(w) = runs.windows(2).find(|w| w[0].0 == w[1].0) {
        out.push(Finding::SameMinute {
            local: local(w[0].0),
        });
    }
    let mut seen = [false, false];
    for w in runs.windows(2) {
        let (prev, cur) = (w[0], w[1]);
        let i = usize::from(cur.1 == Action::Start);
        if prev.1 == cur.1 && prev.0 != cur.0 && !seen[i] {
            seen[i] = true;
            out.push(Finding::InARow {
                action: cur.1,
                local: local(cur.0),
                previous: local(prev.0),
            });
        }
    }
    out
}

/// One action's upcoming runs, for `plan`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpcomingAction {
    /// `stop` or `start`.
    pub action: Action,
    /// The expression (six fields).
    pub cron: String,
    /// The scaling profile applied (start only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The next run; null when the expression never fires again.
    pub next: Option<RunTime>,
    /// The first run after the zone's next offset change (null without one
    /// within [`SIMULATED_DAYS`] days, or without a run after it).
    pub after_change: Option<RunTime>,
}

/// When a run happens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunTime {
    /// UTC, RFC 3339 (`2026-03-20T18:00:00Z`).
    pub utc: String,
    /// Local time with its offset, RFC 3339 (`2026-03-20T19:00:00+01:00`).
    pub local: String,
    /// The zone's abbreviation then (`CET`).
    pub abbreviation: String,
    /// For people: `2026-03-20 19:00 CET (+01:00) = 2026-03-20 18:00 UTC`.
    pub text: String,
}

impl From<&Fire> for RunTime {
    fn from(f: &Fire) -> Self {
        RunTime {
            utc: utc_rfc3339(f.at),
            local: format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:00{}",
                f.local.year(),
                f.local.month(),
                f.local.day(),
                f.local.hour(),
                f.local.minute(),
                offset_text(f.offset)
            ),
            abbreviation: f.abbreviation.clone(),
            text: format!("{} = {}", f.local_text(), f.utc_text()),
        }
    }
}

/// A zone's next offset change, for `plan`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeTime {
    /// UTC, RFC 3339.
    pub utc: String,
    /// For people: `2027-03-28 02:00 CET (+01:00) becomes 03:00 CEST (+02:00)`.
    pub text: String,
}

/// A workload's upcoming scheduled runs, for `plan`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Upcoming {
    /// The workload.
    pub workload: String,
    /// The IANA time zone.
    pub timezone: String,
    /// The zone's next offset change within [`SIMULATED_DAYS`] days.
    pub change: Option<ChangeTime>,
    /// The stop, then the start (each when the schedule has it).
    pub actions: Vec<UpcomingAction>,
}

/// The upcoming runs of the selected workloads that have a schedule, as
/// `plan` shows them (`plan -o json`'s `schedules`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleRuns {
    /// The time the runs are computed from (UTC, RFC 3339).
    pub now: String,
    /// One entry per workload with a schedule, in the plan's order.
    pub workloads: Vec<Upcoming>,
}

/// [`upcoming`] with its "now"; `None` when no workload has a schedule.
pub fn schedule_runs(workloads: &[&spec::Workload], now: Timestamp) -> Option<ScheduleRuns> {
    let up = upcoming(workloads, now);
    (!up.is_empty()).then(|| ScheduleRuns {
        now: utc_rfc3339(now),
        workloads: up,
    })
}

/// The upcoming runs of every workload with a schedule, in the order given.
/// Workloads whose schedule does not compile are left out (`validate`
/// refuses them before a plan).
pub fn upcoming(workloads: &[&spec::Workload], now: Timestamp) -> Vec<Upcoming> {
    workloads
        .iter()
        .filter_map(|w| {
            let c = compile(w.schedule.as_ref()?).ok()?;
            let change = c.next_change(now, SIMULATED_DAYS);
            let actions = [Action::Stop, Action::Start]
                .into_iter()
                .filter_map(|action| {
                    let cron = c.cron(action)?;
                    Some(UpcomingAction {
                        action,
                        cron: cron.as_str().to_string(),
                        profile: match action {
                            Action::Start => c.profile.clone(),
                            Action::Stop => None,
                        },
                        next: c.next(action, now).as_ref().map(RunTime::from),
                        after_change: change
                            .as_ref()
                            .and_then(|ch| c.next(action, ch.at))
                            .as_ref()
                            .map(RunTime::from),
                    })
                })
                .collect();
            Some(Upcoming {
                workload: w.name.clone(),
                timezone: c.timezone_name.clone(),
                change: change.map(|ch| ChangeTime {
                    utc: utc_rfc3339(ch.at),
                    text: ch.text(),
                }),
                actions,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn tz(name: &str) -> TimeZone {
        timezone(name).unwrap()
    }

    /// The next `n` runs as `local = utc` text.
    fn runs(cron: &str, zone: &str, after: &str, n: usize) -> Vec<String> {
        let c = Cron::parse(cron).unwrap();
        let z = tz(zone);
        c.runs_after(&z, ts(after))
            .take(n)
            .map(|t| {
                let f = Fire::new(Action::Stop, &z, t);
                format!("{} = {}", f.local_text(), f.utc_text())
            })
            .collect()
    }

    fn days(cron: &str, after: &str, n: usize) -> Vec<String> {
        let c = Cron::parse(cron).unwrap();
        c.runs_after(&TimeZone::UTC, ts(after))
            .take(n)
            .map(|t| utc_rfc3339(t)[..10].to_string())
            .collect()
    }

    fn err(cron: &str) -> String {
        Cron::parse(cron).unwrap_err().to_string()
    }

    #[test]
    fn aws_documented_examples_parse_and_fire() {
        let after = "2026-12-02T12:00:00Z";
        assert_eq!(
            runs("0 10 * * ? *", "UTC", after, 2),
            [
                "2026-12-03 10:00 UTC (+00:00) = 2026-12-03 10:00 UTC",
                "2026-12-04 10:00 UTC (+00:00) = 2026-12-04 10:00 UTC"
            ]
        );
        assert_eq!(days("15 12 * * ? *", after, 1), ["2026-12-02"]);
        // 2026-12-04 is a Friday: the next weekday 18:00 after it is Monday.
        assert_eq!(
            days("0 18 ? * MON-FRI *", "2026-12-04T19:00:00Z", 1),
            ["2026-12-07"]
        );
        assert_eq!(days("0 8 1 * ? *", after, 2), ["2027-01-01", "2027-02-01"]);
        assert_eq!(
            runs("0/15 * * * ? *", "UTC", after, 3)
                .iter()
                .map(|s| s[11..16].to_string())
                .collect::<Vec<_>>(),
            ["12:15", "12:30", "12:45"]
        );
        assert_eq!(
            runs("0/5 8-17 ? * MON-FRI *", "UTC", "2026-12-04T17:54:00Z", 2)
                .iter()
                .map(|s| s[..16].to_string())
                .collect::<Vec<_>>(),
            ["2026-12-04 17:55", "2026-12-07 08:00"]
        );
        // The first Monday of the month.
        assert_eq!(
            days("0 9 ? * 2#1 *", after, 2),
            ["2026-12-07", "2027-01-04"]
        );
    }

    #[test]
    fn lists_ranges_steps_and_names() {
        let c = Cron::parse("1/20 0,12 ? jan-mar,DEC mon,WED-fri 2026-2028/2").unwrap();
        assert_eq!(c.minutes, (1 << 1) | (1 << 21) | (1 << 41));
        assert_eq!(c.hours, 1 | (1 << 12));
        assert_eq!(c.months, 0b1_0000_0000_1110);
        assert_eq!(
            c.days,
            Days::OfWeek((1 << 2) | (1 << 4) | (1 << 5) | (1 << 6))
        );
        assert!(c.has_year(2026) && !c.has_year(2027) && c.has_year(2028) && !c.has_year(2030));
        assert_eq!(
            c.to_string(),
            "1/20 0,12 ? jan-mar,DEC mon,WED-fri 2026-2028/2"
        );
        // `*/n` and `a-b/n`.
        assert_eq!(
            Cron::parse("*/30 * * * ? *").unwrap().minutes,
            1 | (1 << 30)
        );
        assert_eq!(
            Cron::parse("10-20/5 * * * ? *").unwrap().minutes,
            (1 << 10) | (1 << 15) | (1 << 20)
        );
        // Day-of-week numbers: 1 = Sunday ... 7 = Saturday.
        assert_eq!(
            days("0 0 ? * 1 *", "2026-12-02T00:00:00Z", 1),
            ["2026-12-06"]
        );
        assert_eq!(
            days("0 0 ? * 7 *", "2026-12-02T00:00:00Z", 1),
            ["2026-12-05"]
        );
        // Extra spaces between fields are fine.
        assert!(Cron::parse("  0  19 ? *  MON-FRI *  ").is_ok());
    }

    #[test]
    fn last_nearest_weekday_and_nth() {
        // L: the last day of the month, 29 February in a leap year.
        assert_eq!(
            days("0 0 L * ? *", "2028-02-01T00:00:00Z", 2),
            ["2028-02-29", "2028-03-31"]
        );
        // LW: 31 October 2026 is a Saturday, so the 30th; 31 May 2027 a Monday.
        assert_eq!(
            days("0 0 LW OCT ? 2026", "2026-01-01T00:00:00Z", 1),
            ["2026-10-30"]
        );
        assert_eq!(
            days("0 0 LW MAY ? 2027", "2026-01-01T00:00:00Z", 1),
            ["2027-05-31"]
        );
        // 1W: 1 August 2026 is a Saturday; the nearest weekday in August is Monday the 3rd.
        assert_eq!(
            days("0 0 1W AUG ? 2026", "2026-01-01T00:00:00Z", 1),
            ["2026-08-03"]
        );
        // 15W: 15 November 2026 is a Sunday: Monday the 16th; 14 November a Saturday: Friday the 13th.
        assert_eq!(
            days("0 0 15W NOV ? 2026", "2026-01-01T00:00:00Z", 1),
            ["2026-11-16"]
        );
        assert_eq!(
            days("0 0 14W NOV ? 2026", "2026-01-01T00:00:00Z", 1),
            ["2026-11-13"]
        );
        // 31W: 31 January 2027 is a Sunday and the last day: Friday the 29th.
        assert_eq!(
            days("0 0 31W JAN ? 2027", "2026-01-01T00:00:00Z", 1),
            ["2027-01-29"]
        );
        // 31W does not fire in months without a 31st.
        assert_eq!(
            days("0 0 31W * ? 2027", "2027-03-01T00:00:00Z", 2),
            ["2027-03-31", "2027-05-31"]
        );
        // 6L: the last Friday; 31 December 2026 is a Thursday.
        assert_eq!(
            days("0 0 ? DEC 6L 2026", "2026-01-01T00:00:00Z", 1),
            ["2026-12-25"]
        );
        // L alone in day-of-week: Saturday.
        assert_eq!(
            days("0 0 ? * L *", "2026-12-02T00:00:00Z", 1),
            ["2026-12-05"]
        );
        // 3#2: the second Tuesday; 1 December 2026 is a Tuesday.
        assert_eq!(
            days("0 0 ? DEC 3#2 2026", "2026-01-01T00:00:00Z", 1),
            ["2026-12-08"]
        );
        // 5#5: a fifth Thursday only in months that have one.
        assert_eq!(
            days("0 0 ? * 5#5 2026", "2026-11-01T00:00:00Z", 2),
            ["2026-12-31"]
        );
        assert_eq!(
            days("0 0 ? * THU#5 *", "2026-11-01T00:00:00Z", 1),
            ["2026-12-31"]
        );
    }

    #[test]
    fn errors_name_the_field_and_why() {
        assert_eq!(
            err("cron(0 19 ? * MON-FRI *)"),
            "write the six fields without `cron(...)`: `0 19 ? * MON-FRI *` (tierctl adds `cron(...)` when it writes the schedule to AWS)"
        );
        assert!(err("rate(5 minutes)").starts_with("`rate(...)` expressions are not supported"));
        assert!(
            err("at(2026-12-02T19:00:00)").starts_with("`at(...)` expressions are not supported")
        );
        assert!(
            err("0 19 * * MON-FRI")
                .starts_with("has 5 field(s); EventBridge Scheduler cron has six")
        );
        assert!(err("").starts_with("has 0 field(s)"));
        assert_eq!(
            err("60 19 ? * MON-FRI *"),
            "minutes (1st field) `60`: 60 is outside 0-59"
        );
        assert_eq!(
            err("0 24 ? * MON-FRI *"),
            "hours (2nd field) `24`: 24 is outside 0-23"
        );
        assert_eq!(
            err("0 1 0 * ? *"),
            "day-of-month (3rd field) `0`: 0 is outside 1-31"
        );
        assert_eq!(
            err("0 1 1 13 ? *"),
            "month (4th field) `13`: 13 is outside 1-12"
        );
        assert_eq!(
            err("0 1 1 FOO ? *"),
            "month (4th field) `FOO`: `FOO` is not a month 1-12 or JAN-DEC"
        );
        assert_eq!(
            err("0 1 ? * 0 *"),
            "day-of-week (5th field) `0`: 0 is outside 1-7"
        );
        assert_eq!(
            err("0 1 ? * 8 *"),
            "day-of-week (5th field) `8`: 8 is outside 1-7"
        );
        assert_eq!(
            err("0 1 ? * * 1969"),
            "year (6th field) `1969`: 1969 is outside 1970-2199"
        );
        assert_eq!(
            err("0 1 ? * * 2200"),
            "year (6th field) `2200`: 2200 is outside 1970-2199"
        );
        assert!(err("0 19 * * MON-FRI *").starts_with(
            "day-of-month `*` and day-of-week `MON-FRI`: exactly one of them must be `?`"
        ));
        assert!(err("0 19 ? * ? *").contains("exactly one of them must be `?`"));
        assert!(err("0 ? * * ? *").contains("`?` is only for day-of-month or day-of-week"));
        assert!(err("0 19 ? * FRI-MON *").contains("range `FRI-MON` goes backwards"));
        assert!(err("0/0 19 ? * MON *").contains("step 0 must be 1-60"));
        assert!(err("0/x 19 ? * MON *").contains("step `x` after `/` must be a number"));
        assert!(err("0,,5 19 ? * MON *").contains("empty list item"));
        assert!(err("0 19 1,L * ? *").contains("`L` and `W` stand alone"));
        assert!(err("0 19 1-5W * ? *").contains("`W` takes one day"));
        assert!(err("0 19 32W * ? *").contains("32 is outside 1-31"));
        assert!(err("0 19 ? * 3#6 *").contains("1-5, not `6`"));
        assert!(err("0 19 ? * 2#1,3#1 *").contains("`#` stands alone"));
        assert!(err("0 19 ? * 1-5L *").contains("`L` takes one day"));
        assert!(err("0 19 3#2 * ? *").contains("`#` is for day-of-week"));
        assert!(err("0 19 ? * 5W *").contains("`W` is for day-of-month"));
        assert!(err("0 19 30 FEB ? *").contains("no selected month has that day"));
        assert!(err("x 19 ? * MON *").contains("`x` is not a number 0-59"));
        assert!(err("+5 19 ? * MON *").contains("`+5` is not a number 0-59"));
        assert!(err("*/+5 19 ? * MON *").contains("step `+5` after `/` must be a number"));
    }

    #[test]
    fn time_zones_are_iana_names_from_the_bundled_database() {
        assert!(timezone("Europe/Berlin").is_ok());
        assert!(timezone("America/New_York").is_ok());
        assert!(timezone("UTC").is_ok());
        assert_eq!(
            timezone("Europe/Berlinn").unwrap_err().to_string(),
            "`Europe/Berlinn` is not an IANA time zone name (e.g. `Europe/Berlin`, `America/New_York`, `UTC`)"
        );
        assert!(timezone("").is_err());
        assert!(timezone(" Europe/Berlin").is_err());
        assert!(timezone("/etc/passwd").is_err());
        assert!(timezone("CET+1").is_err());
        assert_eq!(
            timezone("europe/berlin").unwrap_err().to_string(),
            "time zone `europe/berlin` is spelled `Europe/Berlin` in the IANA database"
        );
    }

    #[test]
    fn berlin_spring_forward_skips_a_run_at_a_time_that_does_not_exist() {
        // 2027-03-28: 02:00 CET becomes 03:00 CEST; 02:30 does not exist that day.
        assert_eq!(
            runs("30 2 * * ? *", "Europe/Berlin", "2027-03-26T12:00:00Z", 3),
            [
                "2027-03-27 02:30 CET (+01:00) = 2027-03-27 01:30 UTC",
                "2027-03-29 02:30 CEST (+02:00) = 2027-03-29 00:30 UTC",
                "2027-03-30 02:30 CEST (+02:00) = 2027-03-30 00:30 UTC",
            ]
        );
        // 19:00 local: 18:00 UTC before the change, 17:00 UTC after.
        assert_eq!(
            runs(
                "0 19 ? * MON-FRI *",
                "Europe/Berlin",
                "2027-03-26T12:00:00Z",
                2
            ),
            [
                "2027-03-26 19:00 CET (+01:00) = 2027-03-26 18:00 UTC",
                "2027-03-29 19:00 CEST (+02:00) = 2027-03-29 17:00 UTC",
            ]
        );
    }

    #[test]
    fn berlin_fall_back_runs_an_ambiguous_time_once() {
        // 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 happens twice, runs once (the first).
        assert_eq!(
            runs("30 2 * * ? *", "Europe/Berlin", "2026-10-24T12:00:00Z", 2),
            [
                "2026-10-25 02:30 CEST (+02:00) = 2026-10-25 00:30 UTC",
                "2026-10-26 02:30 CET (+01:00) = 2026-10-26 01:30 UTC",
            ]
        );
        // Every half hour in the repeated hour: two runs, not four.
        assert_eq!(
            runs(
                "0/30 2 25 OCT ? 2026",
                "Europe/Berlin",
                "2026-10-24T12:00:00Z",
                5
            )
            .len(),
            2
        );
    }

    #[test]
    fn new_york_daylight_saving_time() {
        // 2027-03-14: 02:00 EST becomes 03:00 EDT.
        assert_eq!(
            runs(
                "30 2 * * ? *",
                "America/New_York",
                "2027-03-13T12:00:00Z",
                2
            ),
            [
                "2027-03-15 02:30 EDT (-04:00) = 2027-03-15 06:30 UTC",
                "2027-03-16 02:30 EDT (-04:00) = 2027-03-16 06:30 UTC",
            ]
        );
        // 2026-11-01: 01:30 happens twice (EDT, then EST) and runs once.
        assert_eq!(
            runs(
                "30 1 * * ? *",
                "America/New_York",
                "2026-10-31T12:00:00Z",
                2
            ),
            [
                "2026-11-01 01:30 EDT (-04:00) = 2026-11-01 05:30 UTC",
                "2026-11-02 01:30 EST (-05:00) = 2026-11-02 06:30 UTC",
            ]
        );
    }

    #[test]
    fn expressions_that_never_fire_again_end() {
        let c = Cron::parse("0 0 1 1 ? 2020").unwrap();
        assert_eq!(
            c.next_after(&TimeZone::UTC, ts("2026-12-02T00:00:00Z")),
            None
        );
        // The last possible year ends the iteration, too.
        let c = Cron::parse("0 0 ? * MON 2199").unwrap();
        let after = ts("2199-12-20T00:00:00Z");
        assert_eq!(c.runs_after(&TimeZone::UTC, after).count(), 2);
        // 29 February in years without one: no date matches, the search ends.
        let c = Cron::parse("0 0 29 FEB ? 2027").unwrap();
        assert_eq!(
            c.next_after(&TimeZone::UTC, ts("2026-01-01T00:00:00Z")),
            None
        );
        // The 5th Monday of February only exists in some years.
        let c = Cron::parse("0 0 ? FEB MON#5 2026-2027").unwrap();
        assert_eq!(
            c.next_after(&TimeZone::UTC, ts("2026-01-01T00:00:00Z")),
            None
        );
    }

    fn compiled(zone: &str, stop: Option<&str>, start: Option<&str>) -> Compiled {
        compile(&spec::Schedule {
            timezone: zone.into(),
            stop: stop.map(|c| spec::ScheduledStop { cron: c.into() }),
            start: start.map(|c| spec::ScheduledStart {
                cron: c.into(),
                profile: None,
            }),
        })
        .unwrap()
    }

    #[test]
    fn compile_names_the_field() {
        let s = |tz: &str, stop: &str| spec::Schedule {
            timezone: tz.into(),
            stop: Some(spec::ScheduledStop { cron: stop.into() }),
            start: None,
        };
        assert!(
            compile(&s("Mars/Olympus", "0 19 ? * MON *"))
                .unwrap_err()
                .to_string()
                .starts_with("schedule.timezone: `Mars/Olympus`")
        );
        assert!(
            compile(&s("UTC", "0 19 * * MON *"))
                .unwrap_err()
                .to_string()
                .starts_with("schedule.stop.cron: day-of-month")
        );
    }

    #[test]
    fn next_runs_interleave_stop_and_start_deterministically() {
        let c = compiled(
            "Europe/Berlin",
            Some("0 19 ? * MON-FRI *"),
            Some("0 7 ? * MON-FRI *"),
        );
        let now = ts("2026-12-04T12:00:00Z");
        let a = c.next_runs(now, 4);
        assert_eq!(a, c.next_runs(now, 4));
        let got: Vec<String> = a
            .iter()
            .map(|f| format!("{} {}", f.action.as_str(), f.local_text()))
            .collect();
        assert_eq!(
            got,
            [
                "stop 2026-12-04 19:00 CET (+01:00)",
                "start 2026-12-07 07:00 CET (+01:00)",
                "stop 2026-12-07 19:00 CET (+01:00)",
                "start 2026-12-08 07:00 CET (+01:00)",
            ]
        );
        assert!(check(&c, now).is_empty());
        // Stop only: no sequence to check.
        let c = compiled("UTC", Some("0 19 * * ? *"), None);
        assert_eq!(c.next_runs(now, 2).len(), 2);
        assert!(check(&c, now).is_empty());
    }

    #[test]
    fn check_finds_runs_out_of_order_and_in_one_minute() {
        let now = ts("2026-12-02T12:00:00Z");
        // A stop every day, a start only on weekdays: Saturday's stop follows Friday's.
        let c = compiled(
            "Europe/Berlin",
            Some("0 19 * * ? *"),
            Some("0 7 ? * MON-FRI *"),
        );
        assert_eq!(
            check(&c, now),
            [Finding::InARow {
                action: Action::Stop,
                local: "2026-12-05 19:00 CET (+01:00)".into(),
                previous: "2026-12-04 19:00 CET (+01:00)".into(),
            }]
        );
        // Same minute, every weekday.
        let c = compiled("UTC", Some("0 7 ? * MON-FRI *"), Some("0 7 ? * MON-FRI *"));
        assert_eq!(
            check(&c, now),
            [Finding::SameMinute {
                local: "2026-12-03 07:00 UTC (+00:00)".into()
            }]
        );
        // A start in December only, a stop every day: starts never repeat, stops do.
        let c = compiled("UTC", Some("0 19 * * ? *"), Some("0 7 1 DEC ? *"));
        let f = check(&c, now);
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message()
                .starts_with("two stops in a row without a start between: 2026-12-02 19:00"),
            "{}",
            f[0].message()
        );
        // Every minute against once a day: the simulation is cut where the
        // busy one stops, not taken for two starts in a row after it.
        let c = compiled("UTC", Some("* * * * ? *"), Some("0 7 * * ? *"));
        assert!(
            check(&c, now).iter().all(|f| !matches!(
                f,
                Finding::InARow {
                    action: Action::Start,
                    ..
                }
            )),
            "{:?}",
            check(&c, now)
        );
        // Never again.
        let c = compiled("UTC", Some("0 19 * * ? 2020"), Some("0 7 * * ? *"));
        assert_eq!(
            check(&c, now),
            [Finding::NeverFires {
                action: Action::Stop
            }]
        );
        assert!(check(&c, now)[0].is_error());
    }

    #[test]
    fn upcoming_shows_the_first_runs_after_the_next_change() {
        let w = {
            let mut w = spec::example_with_every_field();
            w.schedule = Some(spec::Schedule {
                timezone: "Europe/Berlin".into(),
                stop: Some(spec::ScheduledStop {
                    cron: "0 19 ? * MON-FRI *".into(),
                }),
                start: Some(spec::ScheduledStart {
                    cron: "0 7 ? * MON-FRI *".into(),
                    profile: Some("default".into()),
                }),
            });
            w
        };
        let up = upcoming(&[&w], ts("2027-03-24T12:00:00Z"));
        assert_eq!(up.len(), 1);
        let u = &up[0];
        assert_eq!(
            u.change.as_ref().unwrap().text,
            "2027-03-28 02:00 CET (+01:00) becomes 03:00 CEST (+02:00)"
        );
        let stop = &u.actions[0];
        assert_eq!(
            stop.next.as_ref().unwrap().text,
            "2027-03-24 19:00 CET (+01:00) = 2027-03-24 18:00 UTC"
        );
        assert_eq!(
            stop.next.as_ref().unwrap().local,
            "2027-03-24T19:00:00+01:00"
        );
        assert_eq!(stop.next.as_ref().unwrap().utc, "2027-03-24T18:00:00Z");
        assert_eq!(
            stop.after_change.as_ref().unwrap().text,
            "2027-03-29 19:00 CEST (+02:00) = 2027-03-29 17:00 UTC"
        );
        assert_eq!(u.actions[1].profile.as_deref(), Some("default"));
        // UTC has no changes.
        let mut utc = w.clone();
        utc.schedule.as_mut().unwrap().timezone = "UTC".into();
        assert_eq!(
            upcoming(&[&utc], ts("2027-03-24T12:00:00Z"))[0].change,
            None
        );
        // No schedule, nothing.
        let mut none = w.clone();
        none.schedule = None;
        assert!(upcoming(&[&none], ts("2027-03-24T12:00:00Z")).is_empty());
    }
}
