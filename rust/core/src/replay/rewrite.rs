//! Rewriting time fields of JSON payloads to the replay's wall clock.

use serde_json::Value;

/// Keys whose string values are replaced, at any depth.
pub const TIME_KEYS: &[&str] = &[
    "timestamp",
    "ts",
    "startedAt",
    "stoppedAt",
    "receivedAt",
    "createdAt",
    "updatedAt",
    "finishedAt",
];

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for Unix nanoseconds (see [`crate::time::iso_ms`]).
pub use crate::time::iso_ms;

fn walk(v: &mut Value, now: &str) -> bool {
    let mut changed = false;
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if val.is_string() && TIME_KEYS.contains(&k.as_str()) {
                    *val = Value::String(now.to_string());
                    changed = true;
                } else {
                    changed |= walk(val, now);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                changed |= walk(item, now);
            }
        }
        _ => {}
    }
    changed
}

/// The payload with every time field set to `now`; `None` when it is not JSON or has none.
pub fn rewrite_times(payload: &[u8], now: &str) -> Option<Vec<u8>> {
    let first = payload.iter().find(|c| !c.is_ascii_whitespace())?;
    if *first != b'{' && *first != b'[' {
        return None;
    }
    let mut v: Value = serde_json::from_slice(payload).ok()?;
    if walk(&mut v, now) {
        serde_json::to_vec(&v).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_rewrites() {
        assert_eq!(iso_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            iso_ms(1_772_524_961_167_000_000),
            "2026-03-03T08:02:41.167Z"
        );
        let out = rewrite_times(
            br#"{"b":1,"timestamp":"x","steps":[{"startedAt":"y","n":2}],"ts":5}"#,
            "NOW",
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"b":1,"timestamp":"NOW","steps":[{"startedAt":"NOW","n":2}],"ts":5}"#
        );
        assert!(rewrite_times(b"true", "NOW").is_none());
        assert!(rewrite_times(b"{\"a\":1}", "NOW").is_none());
    }
}
