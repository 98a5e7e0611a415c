//! Record timestamps: `YYYY-MM-DD[T ]HH:MM:SS[.f{1,9}][Z|±HH:MM]` to UTC microseconds.
//!
//! Naive timestamps are local time of the recording machine in a zone given by the caller
//! (never the host's zone). Ambiguous local times (autumn fold) take the earlier instant,
//! non-existent ones (spring gap) use the offset in force before the gap, as Python's
//! `zoneinfo` does with `fold=0`.

use std::cell::RefCell;
use std::collections::HashMap;

use jiff::civil::DateTime;
use jiff::tz::TimeZone;

const US_PER_SEC: i64 = 1_000_000;

/// A parsed timestamp before zone resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed {
    /// Microseconds since 1970-01-01T00:00:00 of the wall clock (no zone applied).
    pub wall_us: i64,
    /// UTC offset in seconds, if the text had one.
    pub offset_s: Option<i32>,
}

fn num(b: &[u8]) -> Option<i64> {
    let mut v = 0i64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's algorithm; the
/// inverse of [`days_from_civil`], so the calendar lives in this one module).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for Unix nanoseconds (the recorder's and the replay's clock
/// text; hand-formatted because the recorder writes one per message).
pub fn iso_ms(unix_ns: i64) -> String {
    let secs = unix_ns.div_euclid(1_000_000_000);
    let ms = unix_ns.rem_euclid(1_000_000_000) / 1_000_000;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// Parses the timestamp grammar; `None` when the text does not match or names no valid date.
pub fn parse(b: &[u8]) -> Option<Parsed> {
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let y = num(&b[0..4])?;
    let mo = num(&b[5..7])?;
    let d = num(&b[8..10])?;
    let h = num(&b[11..13])?;
    let mi = num(&b[14..16])?;
    let s = num(&b[17..19])?;
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let mut i = 19;
    let mut frac_us = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let n = i - start;
        if n == 0 || n > 9 {
            return None;
        }
        let digits = &b[start..start + n.min(6)];
        frac_us = num(digits)? * 10i64.pow(6 - n.min(6) as u32);
    }
    let offset_s = match &b[i..] {
        [] => None,
        [b'Z'] => Some(0),
        [sign @ (b'+' | b'-'), hh @ .., b':', m1, m2] if hh.len() == 2 => {
            let oh = num(hh)?;
            let om = num(&[*m1, *m2])?;
            if oh > 23 || om > 59 {
                return None;
            }
            let v = (oh * 3600 + om * 60) as i32;
            Some(if *sign == b'-' { -v } else { v })
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let wall_us = ((days * 86_400) + h * 3600 + mi * 60 + s) * US_PER_SEC + frac_us;
    Some(Parsed { wall_us, offset_s })
}

/// Resolves naive wall-clock times in one zone, caching the offset per quarter hour.
pub struct Zone {
    tz: TimeZone,
    cache: RefCell<HashMap<i64, i32>>,
}

const BUCKET_US: i64 = 15 * 60 * US_PER_SEC;
/// 9999-12-29T00:00:00 UTC, safely inside jiff's range for every offset.
const LAST_JIFF_SECOND: i64 = 253_402_041_600;

impl Zone {
    /// Looks the zone up in the system's zoneinfo database, falling back to the bundled one.
    pub fn new(name: &str) -> Result<Self, String> {
        let tz = TimeZone::get(name).map_err(|e| format!("unknown time zone {name:?}: {e}"))?;
        Ok(Zone {
            tz,
            cache: RefCell::new(HashMap::new()),
        })
    }

    fn offset_exact(&self, wall_us: i64) -> Option<i32> {
        use jiff::tz::AmbiguousOffset;
        // jiff's range ends a day before year 10000; zones have no transitions out there,
        // so the offset of the last supported day applies.
        let secs = wall_us.div_euclid(US_PER_SEC).min(LAST_JIFF_SECOND);
        let dt = DateTime::from(
            jiff::Timestamp::from_second(secs)
                .ok()?
                .to_zoned(TimeZone::UTC),
        );
        // As zoneinfo with fold=0: in a gap and in a fold, the offset in force before it.
        let off = match self.tz.to_ambiguous_zoned(dt).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset,
            AmbiguousOffset::Gap { before, .. } | AmbiguousOffset::Fold { before, .. } => before,
        };
        Some(off.seconds())
    }

    /// UTC microseconds for a naive wall-clock time in this zone.
    pub fn to_utc(&self, wall_us: i64) -> Option<i64> {
        let bucket = wall_us.div_euclid(BUCKET_US);
        if let Some(&off) = self.cache.borrow().get(&bucket) {
            return Some(wall_us - i64::from(off) * US_PER_SEC);
        }
        let off = self.offset_exact(wall_us)?;
        // Cache only buckets with one unambiguous offset throughout.
        let start = bucket * BUCKET_US;
        let end = start + BUCKET_US - 1;
        if self.offset_exact(start) == Some(off)
            && self.offset_exact(end) == Some(off)
            && self.is_unambiguous(start, end)
        {
            self.cache.borrow_mut().insert(bucket, off);
        }
        Some(wall_us - i64::from(off) * US_PER_SEC)
    }

    fn is_unambiguous(&self, start: i64, end: i64) -> bool {
        let check = |us: i64| -> bool {
            let secs = us.div_euclid(US_PER_SEC).min(LAST_JIFF_SECOND);
            let Ok(ts) = jiff::Timestamp::from_second(secs) else {
                return false;
            };
            let dt = DateTime::from(ts.to_zoned(TimeZone::UTC));
            matches!(
                self.tz.to_ambiguous_zoned(dt).offset(),
                jiff::tz::AmbiguousOffset::Unambiguous { .. }
            )
        };
        check(start) && check(end)
    }
}

/// First and last microsecond a timestamp may name: years 1 to 9999 in UTC, the range of
/// Python's `datetime` (and of Arrow timestamps read back into Python).
pub const MIN_US: i64 = -62_135_596_800_000_000;
pub const MAX_US: i64 = 253_402_300_799_999_999;

/// True when a UTC timestamp lies within years 1–9999.
pub fn in_range(us: i64) -> bool {
    (MIN_US..=MAX_US).contains(&us)
}

/// Resolves a parsed timestamp to UTC microseconds.
pub fn resolve(p: Parsed, zone: &Zone) -> Option<i64> {
    match p.offset_s {
        Some(off) => Some(p.wall_us - i64::from(off) * US_PER_SEC),
        None => zone.to_utc(p.wall_us),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> i64 {
        resolve(
            parse(s.as_bytes()).unwrap(),
            &Zone::new("Europe/Berlin").unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn parses_variants() {
        assert_eq!(utc("1970-01-01T00:00:00Z"), 0);
        assert_eq!(utc("1970-01-01T00:00:01.5Z"), 1_500_000);
        assert_eq!(utc("1970-01-01T00:00:00.1234569Z"), 123_456);
        assert_eq!(utc("1970-01-01 01:00:00+01:00"), 0);
        // Winter: Berlin is UTC+1; summer UTC+2.
        assert_eq!(utc("2025-11-10T17:51:51"), utc("2025-11-10T16:51:51Z"));
        assert_eq!(
            utc("2026-08-04T11:28:23.921"),
            utc("2026-08-04T09:28:23.921Z")
        );
        // Gap (02:30 does not exist on 2025-03-30): offset before the gap (+1).
        assert_eq!(utc("2025-03-30T02:30:00"), utc("2025-03-30T01:30:00Z"));
        // Fold (02:30 happens twice on 2025-10-26): the earlier (+2).
        assert_eq!(utc("2025-10-26T02:30:00"), utc("2025-10-26T00:30:00Z"));
        assert_eq!(utc("9999-12-30T23:00:00"), 253_402_207_200_000_000);
    }

    #[test]
    fn iso_ms_round_trips_through_the_parser() {
        for ns in [
            0i64,
            1_767_225_600_123_000_000,
            -1_000_000,
            951_782_400_000_000_000,
        ] {
            let text = iso_ms(ns);
            assert_eq!(utc(&text) * 1000, ns - ns.rem_euclid(1_000_000), "{text}");
        }
        assert_eq!(iso_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_ms(951_782_400_000_000_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn range_is_years_1_to_9999() {
        assert_eq!(days_from_civil(1, 1, 1) * 86_400 * US_PER_SEC, MIN_US);
        assert_eq!(
            days_from_civil(10_000, 1, 1) * 86_400 * US_PER_SEC - 1,
            MAX_US
        );
        assert!(!in_range(utc("0000-12-31T23:59:59Z")));
        assert!(in_range(utc("0001-01-01T00:00:00Z")));
        assert!(in_range(utc("9999-12-31T23:59:59.999999Z")));
        assert!(!in_range(utc("9999-12-31T23:59:59-01:00")));
    }

    #[test]
    fn any_text_parses_to_a_value_or_none() {
        // Deterministic pseudo-random strings over the grammar's alphabet: never a panic.
        let alphabet = b"0123456789-T :.Z+\xc3\xa9";
        let zone = Zone::new("Europe/Berlin").unwrap();
        let mut x = 0x853C_49E6_748F_EA9Bu64;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = 15 + (x % 22) as usize;
            let mut b: Vec<u8> = b"2026-01-01T00:00:00.000+01:00"[..n.min(29)].to_vec();
            for k in 0..(x >> 40) % 4 {
                let at = ((x >> (k * 8)) as usize) % b.len().max(1);
                if let Some(c) = b.get_mut(at) {
                    *c = alphabet[((x >> (k * 5 + 3)) as usize) % alphabet.len()];
                }
            }
            if let Some(p) = parse(&b) {
                let _ = resolve(p, &zone);
            }
        }
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "2025-13-01T00:00:00",
            "2025-02-29T00:00:00",
            "2025-01-01T24:00:00",
            "2025-01-01",
            "2025-01-01T00:00:00.",
            "2025-01-01T00:00:00.1234567890",
            "2025-01-01T00:00:00+1",
            "2025-01-01T00:00:00 ",
            "x025-01-01T00:00:00",
        ] {
            assert!(parse(bad.as_bytes()).is_none(), "{bad}");
        }
        assert!(parse(b"2024-02-29T00:00:00").is_some());
    }
}
