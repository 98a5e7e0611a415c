//! Single-pass aggregations over a session's index columns, for interactive analysis.
//!
//! The Session Manager keeps three NumPy columns per session (topic code, timestamp in µs,
//! payload size) and asks for per-topic statistics and per-lane time buckets of a selection of
//! rows after every click. With millions of rows a sort per click is too slow; these functions
//! walk the selected rows once, in row order, with per-topic accumulators.

use std::fmt;

use rayon::prelude::*;

/// Why an aggregation could not be computed from the given columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AggError {
    /// Columns of different lengths.
    Length(&'static str),
    /// A row index outside the columns.
    Row(i64),
    /// A topic code outside `0..n_topics`.
    Code(i32),
    /// A bad parameter (bucket count, lane count).
    Param(&'static str),
}

impl fmt::Display for AggError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length(what) => write!(f, "column lengths differ: {what}"),
            Self::Row(r) => write!(f, "row {r} is outside the session"),
            Self::Code(c) => write!(f, "topic code {c} is out of range"),
            Self::Param(what) => write!(f, "invalid parameter: {what}"),
        }
    }
}

impl std::error::Error for AggError {}

/// Per-topic statistics of a selection (index = topic code).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicStats {
    pub count: Vec<i64>,
    pub bytes: Vec<i64>,
    /// First/last timestamp (µs); meaningless where `count` is 0.
    pub first: Vec<i64>,
    pub last: Vec<i64>,
    /// Smallest/largest gap (µs) between consecutive messages of a topic; `i64::MAX`/`i64::MIN`
    /// where the topic has fewer than two messages.
    pub gap_min: Vec<i64>,
    pub gap_max: Vec<i64>,
    /// False when some topic's timestamps go backwards in row order: then the gaps above are
    /// not the gaps in time order and the caller must sort (count and bytes stay right).
    pub ordered: bool,
}

fn check_rows(rows: Option<&[i64]>, n: usize) -> Result<(), AggError> {
    if let Some(rows) = rows {
        if let Some(&bad) = rows.iter().find(|&&r| r < 0 || r as u64 >= n as u64) {
            return Err(AggError::Row(bad));
        }
    }
    Ok(())
}

/// Selections below this many rows are walked by one thread.
const PARALLEL_MIN_ROWS: usize = 1 << 18;

/// A contiguous piece of a selection: some of its row numbers, or a range of all rows.
#[derive(Clone, Copy)]
enum Piece<'a> {
    Rows(&'a [i64]),
    Range(usize, usize),
}

impl Piece<'_> {
    /// Calls `f(row)` for every row of the piece, in order; stops at the first row that is
    /// not below `n` and returns it.
    #[inline]
    fn each(self, n: usize, mut f: impl FnMut(usize)) -> Option<i64> {
        match self {
            Piece::Rows(rows) => {
                for &r in rows {
                    if r < 0 || r as u64 >= n as u64 {
                        return Some(r);
                    }
                    f(r as usize);
                }
            }
            Piece::Range(a, b) => (a..b.min(n)).for_each(f),
        }
        None
    }
}

/// The selection (all rows when `rows` is `None`) cut into about one piece per core, in order.
fn pieces(rows: Option<&[i64]>, n: usize) -> Vec<Piece<'_>> {
    let len = rows.map_or(n, <[i64]>::len);
    let k = (len / PARALLEL_MIN_ROWS).clamp(1, rayon::current_num_threads().max(1));
    let step = len.div_ceil(k).max(1);
    match rows {
        _ if len == 0 => vec![Piece::Range(0, 0)],
        Some(rows) => rows.chunks(step).map(Piece::Rows).collect(),
        None => (0..n)
            .step_by(step)
            .map(|a| Piece::Range(a, (a + step).min(n)))
            .collect(),
    }
}

impl TopicStats {
    fn empty(n_topics: usize) -> Self {
        Self {
            count: vec![0; n_topics],
            bytes: vec![0; n_topics],
            first: vec![0; n_topics],
            last: vec![0; n_topics],
            gap_min: vec![i64::MAX; n_topics],
            gap_max: vec![i64::MIN; n_topics],
            ordered: true,
        }
    }

    /// Appends the statistics of the rows that follow this piece's rows.
    fn append(&mut self, later: &TopicStats) {
        self.ordered &= later.ordered;
        for c in 0..self.count.len() {
            if later.count[c] == 0 {
                continue;
            }
            if self.count[c] == 0 {
                self.first[c] = later.first[c];
            } else {
                let gap = later.first[c] - self.last[c];
                self.ordered &= gap >= 0;
                self.gap_min[c] = self.gap_min[c].min(gap);
                self.gap_max[c] = self.gap_max[c].max(gap);
            }
            self.gap_min[c] = self.gap_min[c].min(later.gap_min[c]);
            self.gap_max[c] = self.gap_max[c].max(later.gap_max[c]);
            self.last[c] = later.last[c];
            self.count[c] += later.count[c];
            self.bytes[c] += later.bytes[c];
        }
    }
}

/// Count, bytes, first/last time and min/max gap per topic over `rows` (row order). Pieces of
/// the selection are walked in parallel and joined in order.
pub fn topic_stats(
    codes: &[i32],
    ts: &[i64],
    sizes: &[i64],
    rows: Option<&[i64]>,
    n_topics: usize,
) -> Result<TopicStats, AggError> {
    let n = codes.len();
    if ts.len() != n || sizes.len() != n {
        return Err(AggError::Length("codes, timestamps and sizes"));
    }
    let partial = |piece: Piece<'_>| -> Result<TopicStats, AggError> {
        let mut s = TopicStats::empty(n_topics);
        let mut bad_code = None;
        let bad_row = piece.each(n, |r| {
            let code = codes[r];
            let Some(c) = usize::try_from(code).ok().filter(|&c| c < n_topics) else {
                bad_code.get_or_insert(code);
                return;
            };
            let t = ts[r];
            if s.count[c] == 0 {
                s.first[c] = t;
            } else {
                let gap = t - s.last[c];
                s.ordered &= gap >= 0;
                s.gap_min[c] = s.gap_min[c].min(gap);
                s.gap_max[c] = s.gap_max[c].max(gap);
            }
            s.last[c] = t;
            s.count[c] += 1;
            s.bytes[c] += sizes[r];
        });
        match (bad_row, bad_code) {
            (Some(r), _) => Err(AggError::Row(r)),
            (None, Some(code)) => Err(AggError::Code(code)),
            (None, None) => Ok(s),
        }
    };
    let parts: Vec<_> = pieces(rows, n).into_par_iter().map(partial).collect();
    let mut total = TopicStats::empty(n_topics);
    for part in parts {
        total.append(&part?);
    }
    Ok(total)
}

/// Message counts per lane and time bucket of the selected rows whose time lies in
/// `x0..=x1`: `counts[lane * buckets + bucket]`, bucket `i` covering
/// `[x0 + i*span/buckets, x0 + (i+1)*span/buckets)` with `span = max(x1 - x0 + 1, buckets)`.
/// `lane_of_code[code]` is the lane of a topic, or negative to leave it out.
/// Returns the counts and the number of rows inside the range (also those left out by lane).
#[allow(clippy::too_many_arguments)]
pub fn bucket_counts(
    codes: &[i32],
    ts: &[i64],
    rows: Option<&[i64]>,
    lane_of_code: &[i64],
    x0: i64,
    x1: i64,
    lanes: usize,
    buckets: usize,
) -> Result<(Vec<i64>, u64), AggError> {
    let n = codes.len();
    if ts.len() != n {
        return Err(AggError::Length("codes and timestamps"));
    }
    if buckets == 0 || x1 < x0 {
        return Err(AggError::Param("need buckets > 0 and x0 <= x1"));
    }
    if lane_of_code.iter().any(|&l| l >= lanes as i64) {
        return Err(AggError::Param("a lane is not below the lane count"));
    }
    let nb = buckets as i128;
    let span = (i128::from(x1) - i128::from(x0) + 1).max(nb);
    // Bucket i holds the t with floor((t - x0) * nb / span) == i, i.e. t >= edge(i) with
    // edge(i) = x0 + ceil(i * span / nb). Rows mostly come in time order, so the current
    // bucket's edges are kept and a division happens only when a row leaves them.
    let edge = |i: usize| i128::from(x0) + (i as i128 * span + nb - 1) / nb;
    let locate = |t: i64| ((i128::from(t - x0) * nb / span) as usize).min(buckets - 1);
    let partial = |piece: Piece<'_>| -> Result<(Vec<i64>, u64), AggError> {
        let (mut b, mut lo, mut hi) = (0_usize, edge(0), edge(1));
        let mut counts = vec![0_i64; lanes * buckets];
        let mut inside = 0_u64;
        let mut bad_code = None;
        let bad_row = piece.each(n, |r| {
            let t = ts[r];
            if t < x0 || t > x1 {
                return;
            }
            inside += 1;
            let code = codes[r];
            let Some(&lane) = usize::try_from(code).ok().and_then(|c| lane_of_code.get(c)) else {
                bad_code.get_or_insert(code);
                return;
            };
            if lane < 0 {
                return;
            }
            let wide = i128::from(t);
            if wide < lo || wide >= hi {
                b = locate(t);
                (lo, hi) = (edge(b), edge(b + 1));
            }
            counts[lane as usize * buckets + b] += 1;
        });
        match (bad_row, bad_code) {
            (Some(r), _) => Err(AggError::Row(r)),
            (None, Some(code)) => Err(AggError::Code(code)),
            (None, None) => Ok((counts, inside)),
        }
    };
    let parts: Vec<_> = pieces(rows, n).into_par_iter().map(partial).collect();
    let mut counts = vec![0_i64; lanes * buckets];
    let mut inside = 0_u64;
    for part in parts {
        let (c, i) = part?;
        counts.iter_mut().zip(c).for_each(|(a, b)| *a += b);
        inside += i;
    }
    Ok((counts, inside))
}

/// Largest key range sorted by counting (the counts take 8 bytes per possible key).
const COUNTING_RANGE: u64 = 1 << 20;

/// Writes `rows` ordered by `keys[row]` (ascending, or descending) into `out`, ties kept in
/// their order in `rows` — a stable sort. Sessions have millions of rows: keys spanning at
/// most 2^20 values (payload sizes, topic ranks) take a counting sort straight into `out`
/// (two passes, no temporary copies); others a parallel sort of (key, position) pairs.
pub fn sort_rows_into(
    keys: &[i64],
    rows: &[i64],
    descending: bool,
    out: &mut [i64],
) -> Result<(), AggError> {
    check_rows(Some(rows), keys.len())?;
    if out.len() != rows.len() {
        return Err(AggError::Length("rows and out"));
    }
    if rows.len() > u32::MAX as usize {
        return Err(AggError::Param("at most 2^32 rows"));
    }
    let key = |r: i64| {
        let k = keys[r as usize];
        // !k == -k - 1: order-reversing and cannot overflow
        if descending {
            !k
        } else {
            k
        }
    };
    let (lo, hi) = rows.iter().fold((i64::MAX, i64::MIN), |(lo, hi), &r| {
        let k = key(r);
        (lo.min(k), hi.max(k))
    });
    if rows.is_empty() {
        return Ok(());
    }
    let range = hi.wrapping_sub(lo) as u64;
    if range < COUNTING_RANGE {
        let mut start = vec![0_usize; range as usize + 2];
        for &r in rows {
            start[key(r).wrapping_sub(lo) as usize + 1] += 1;
        }
        for i in 0..=range as usize {
            start[i + 1] += start[i];
        }
        for &r in rows {
            let slot = &mut start[key(r).wrapping_sub(lo) as usize];
            out[*slot] = r;
            *slot += 1;
        }
        return Ok(());
    }
    let mut pairs: Vec<(i64, u32)> = rows
        .iter()
        .enumerate()
        .map(|(pos, &r)| (key(r), pos as u32))
        .collect();
    pairs.par_sort_unstable();
    for (slot, (_, pos)) in out.iter_mut().zip(pairs) {
        *slot = rows[pos as usize];
    }
    Ok(())
}

/// [`sort_rows_into`] into a new vector.
pub fn sort_rows(keys: &[i64], rows: &[i64], descending: bool) -> Result<Vec<i64>, AggError> {
    let mut out = vec![0; rows.len()];
    sort_rows_into(keys, rows, descending, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_per_topic_in_row_order() {
        let codes = [0, 1, 0, 0, 1];
        let ts = [10, 11, 15, 30, 40];
        let sizes = [1, 2, 3, 4, 5];
        let s = topic_stats(&codes, &ts, &sizes, None, 3).unwrap();
        assert_eq!(s.count, vec![3, 2, 0]);
        assert_eq!(s.bytes, vec![8, 7, 0]);
        assert_eq!((s.first[0], s.last[0]), (10, 30));
        assert_eq!((s.gap_min[0], s.gap_max[0]), (5, 15));
        assert_eq!((s.gap_min[1], s.gap_max[1]), (29, 29));
        assert_eq!((s.gap_min[2], s.gap_max[2]), (i64::MAX, i64::MIN));
        assert!(s.ordered);
        let sub = topic_stats(&codes, &ts, &sizes, Some(&[0, 3]), 3).unwrap();
        assert_eq!(sub.count, vec![2, 0, 0]);
        assert_eq!(sub.gap_min[0], 20);
    }

    #[test]
    fn stats_flag_backwards_time_and_reject_bad_input() {
        let s = topic_stats(&[0, 0], &[5, 4], &[0, 0], None, 1).unwrap();
        assert!(!s.ordered);
        assert_eq!(
            topic_stats(&[0], &[1], &[1], Some(&[1]), 1),
            Err(AggError::Row(1))
        );
        assert_eq!(
            topic_stats(&[2], &[1], &[1], None, 1),
            Err(AggError::Code(2))
        );
        assert!(topic_stats(&[0], &[1, 2], &[1], None, 1).is_err());
    }

    #[test]
    fn buckets_cover_the_range_inclusively() {
        let codes = [0, 1, 0, 1, 0];
        let ts = [0, 5, 9, 10, 11];
        let (counts, inside) = bucket_counts(&codes, &ts, None, &[0, 1], 0, 9, 2, 2).unwrap();
        assert_eq!(inside, 3);
        assert_eq!(counts, vec![1, 1, 0, 1]);
        let (counts, inside) = bucket_counts(&codes, &ts, None, &[0, -1], 0, 11, 1, 3).unwrap();
        assert_eq!(inside, 5);
        assert_eq!(counts, vec![1, 0, 2]);
        assert!(bucket_counts(&codes, &ts, None, &[0, 2], 0, 9, 2, 2).is_err());
    }

    #[test]
    fn sort_rows_is_stable_both_ways() {
        let keys = [5, 1, 5, 3, i64::MIN, i64::MAX];
        assert_eq!(
            sort_rows(&keys, &[0, 1, 2, 3], false).unwrap(),
            vec![1, 3, 0, 2]
        );
        assert_eq!(
            sort_rows(&keys, &[0, 1, 2, 3], true).unwrap(),
            vec![0, 2, 3, 1]
        );
        assert_eq!(sort_rows(&keys, &[2, 0], true).unwrap(), vec![2, 0]);
        // a key range beyond 2^20 takes the pair path
        assert_eq!(sort_rows(&keys, &[5, 0, 4], false).unwrap(), vec![4, 0, 5]);
        assert_eq!(sort_rows(&keys, &[5, 0, 4], true).unwrap(), vec![5, 0, 4]);
        assert_eq!(sort_rows(&keys, &[], true).unwrap(), Vec::<i64>::new());
        assert_eq!(sort_rows(&keys, &[6], true), Err(AggError::Row(6)));
    }

    #[test]
    fn parallel_pieces_join_like_one_pass() {
        // Enough rows for several pieces; a topic that appears only in the second half, one
        // only in the first, and time going backwards exactly at a piece boundary.
        let n = 3 * PARALLEL_MIN_ROWS + 17;
        let mut state = 12_345_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let codes: Vec<i32> = (0..n)
            .map(|i| match i {
                _ if i > n / 2 && i % 1000 == 0 => 5,
                _ if i < n / 3 && i % 777 == 0 => 6,
                _ => (next() % 5) as i32,
            })
            .collect();
        let mut ts: Vec<i64> = (0..n as i64).map(|i| i * 3 + (next() % 3) as i64).collect();
        let rows: Vec<i64> = (0..n as i64).filter(|r| r % 3 != 1).collect();
        let sizes: Vec<i64> = (0..n).map(|_| (next() % 500) as i64).collect();
        for (ordered_input, sel) in [(true, None), (true, Some(&rows[..]))] {
            let got = topic_stats(&codes, &ts, &sizes, sel, 7).unwrap();
            let mut want = TopicStats::empty(7);
            let all: Vec<i64> = (0..n as i64).collect();
            for &r in sel.unwrap_or(&all) {
                let one = topic_stats(&codes, &ts, &sizes, Some(&[r]), 7).unwrap();
                want.append(&one);
            }
            assert_eq!(got, want);
            assert_eq!(got.ordered, ordered_input);
            let lanes: Vec<i64> = vec![0, 1, 1, -1, 2, 0, 2];
            let (x0, x1) = (ts[n / 5], ts[4 * n / 5]);
            let (counts, inside) = bucket_counts(&codes, &ts, sel, &lanes, x0, x1, 3, 97).unwrap();
            let mut wc = vec![0_i64; 3 * 97];
            let mut wi = 0;
            for &r in sel.unwrap_or(&all) {
                let (c, i) = bucket_counts(&codes, &ts, Some(&[r]), &lanes, x0, x1, 3, 97).unwrap();
                wc.iter_mut().zip(c).for_each(|(a, b)| *a += b);
                wi += i;
            }
            assert_eq!((counts, inside), (wc, wi));
        }
        // time goes backwards exactly where a piece starts: only the join can notice
        let k = (n / PARALLEL_MIN_ROWS).clamp(1, rayon::current_num_threads().max(1));
        let at = n.div_ceil(k);
        if at < n {
            let mut codes = codes;
            (codes[at - 1], codes[at]) = (0, 0);
            ts[at] = ts[at - 1] - 1_000;
            assert!(!topic_stats(&codes, &ts, &sizes, None, 7).unwrap().ordered);
        }
    }
}
