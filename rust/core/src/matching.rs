//! Matching a benchmark's arrivals to its schedule, in a few linear passes.
//!
//! A fleet benchmark knows what each plant was due to publish (topic and due time per
//! message, in publish order) and the built-in subscriber recorded what arrived (topic and
//! arrival time, in arrival order). Payloads are not changed, so the n-th arrival on a
//! plant's topic is matched to the n-th message the plant was due to publish on it. From the
//! pairs come loss, duplicates, reordering and latency (arrival − due), per plant, in total
//! and per time bin of the due times.
//!
//! Everything here is O(n): the expected messages are grouped by topic with a counting sort,
//! arrivals take the next slot of their topic, and latencies land directly in per-plant and
//! per-bin segments (a segment can hold no more than was expected there), where the
//! percentiles are found by selection instead of sorting. The slow, obvious reference these
//! results are checked against is `tests/bench_metrics_reference.py`.

use std::fmt;

/// Why arrivals could not be matched: inconsistent inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchError {
    /// Columns of different lengths.
    Length(&'static str),
    /// An id outside its range.
    Id(&'static str, i64),
    /// A bad parameter.
    Param(&'static str),
}

impl fmt::Display for MatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length(what) => write!(f, "column lengths differ: {what}"),
            Self::Id(what, v) => write!(f, "{what} {v} is out of range"),
            Self::Param(what) => write!(f, "invalid parameter: {what}"),
        }
    }
}

impl std::error::Error for MatchError {}

/// What was due: per message, its (plant, topic) id and due time (ns), plants one after
/// another, each in publish order.
#[derive(Debug, Clone, Copy)]
pub struct Schedule<'a> {
    /// (plant, topic) id per expected message, `0..plant_of_id.len()`.
    pub id: &'a [i32],
    /// Due time per expected message, ns since the epoch.
    pub due_ns: &'a [i64],
    /// Number of messages of each plant, in the order they appear in `id`.
    pub plant_len: &'a [i64],
    /// The plant (index into `plant_len`) of each id.
    pub plant_of_id: &'a [i32],
}

/// What arrived, in arrival order.
#[derive(Debug, Clone, Copy)]
pub struct Arrivals<'a> {
    /// The subscriber's topic index per arrival.
    pub topic_index: &'a [u32],
    /// (plant, topic) id per subscriber topic index; negative: not a topic of the schedule.
    pub id_of_topic: &'a [i32],
    /// Arrival time per arrival, ns since the epoch.
    pub arrival_ns: &'a [i64],
}

/// Latency percentiles (ns, linear interpolation between closest ranks as NumPy's default)
/// and mean; `None` where nothing matched.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

/// Counts and latency of one plant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlantStats {
    /// Arrivals on the plant's topics (matched or duplicate).
    pub received: u64,
    /// Arrivals paired with an expected message.
    pub matched: u64,
    /// Matched arrivals whose message was due before one that arrived earlier.
    pub reordered: u64,
    pub latency: Option<Latency>,
}

/// Everything the matching found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatchStats {
    pub plants: Vec<PlantStats>,
    /// Arrivals on topics the schedule does not know.
    pub strays: u64,
    pub latency: Option<Latency>,
    /// Start of the first time bin: the earliest due time (ns).
    pub t0_ns: i64,
    /// Latest due time and latest arrival on a known topic (ns); `i64::MIN` when none.
    pub due_max_ns: i64,
    pub arrival_max_ns: i64,
    /// Per bin of `bin_ns` from `t0_ns`: messages due, arrivals (on known topics) and the
    /// p50/p99 latency (ns) of the matched messages due in it (NaN where none).
    pub offered: Vec<u64>,
    pub delivered: Vec<u64>,
    pub bin_p50: Vec<f64>,
    pub bin_p99: Vec<f64>,
}

/// The value at quantile `q` (0..=1) of the sorted order of `n` values, given the values at
/// the two closest ranks: NumPy's `linear` method, including its interpolation formula.
fn lerp_rank(n: usize, q: f64) -> (usize, f64) {
    let virtual_index = (n as f64) * q + (1.0 - q) - 1.0;
    let lo = virtual_index.floor().clamp(0.0, (n - 1) as f64);
    let gamma = (virtual_index - lo).clamp(0.0, 1.0);
    (lo as usize, gamma)
}

fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let d = b - a;
    if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    }
}

/// Percentiles at the quantiles `qs` (ascending, 0..=1) of `values` (reordered in place), by
/// selection: each quantile leaves only the values above its rank for the next one, so
/// p50, p95, p99 cost about 1.5 passes instead of a sort.
fn quantiles(values: &mut [i64], qs: &[f64]) -> Vec<f64> {
    let n = values.len();
    let mut out = Vec::with_capacity(qs.len());
    if n == 0 {
        out.resize(qs.len(), f64::NAN);
        return out;
    }
    // values[..start] are the smallest `start`, in no particular order
    let mut start = 0;
    // the previous quantile's closest ranks: a larger quantile at the same rank reuses them
    let mut prev: Option<(usize, f64, f64)> = None;
    for &q in qs {
        let (lo, gamma) = lerp_rank(n, q);
        let (a, b) = match prev {
            Some((p, a, b)) if p == lo => (a, b),
            _ => {
                let (_, &mut at, rest) = values[start..].select_nth_unstable(lo - start);
                let b = rest.iter().min().map_or(at, |&v| v);
                (at as f64, b as f64)
            }
        };
        out.push(if gamma > 0.0 { lerp(a, b, gamma) } else { a });
        prev = Some((lo, a, b));
        start = lo;
    }
    out
}

fn latency_of(values: &mut [i64]) -> Option<Latency> {
    if values.is_empty() {
        return None;
    }
    let sum: i128 = values.iter().map(|&v| i128::from(v)).sum();
    let max = *values.iter().max().expect("not empty") as f64;
    let q = quantiles(values, &[0.50, 0.95, 0.99]);
    Some(Latency {
        p50: q[0],
        p95: q[1],
        p99: q[2],
        max,
        mean: sum as f64 / values.len() as f64,
    })
}

fn check(s: &Schedule<'_>, a: &Arrivals<'_>, bin_ns: i64) -> Result<(), MatchError> {
    if s.id.len() != s.due_ns.len() {
        return Err(MatchError::Length("id and due_ns"));
    }
    if a.topic_index.len() != a.arrival_ns.len() {
        return Err(MatchError::Length("topic_index and arrival_ns"));
    }
    if s.plant_len.iter().any(|&n| n < 0) || s.plant_len.iter().sum::<i64>() != s.id.len() as i64 {
        return Err(MatchError::Length(
            "plant_len does not add up to the schedule",
        ));
    }
    if bin_ns <= 0 {
        return Err(MatchError::Param("bin_ns must be positive"));
    }
    let ids = s.plant_of_id.len();
    if let Some(&bad) = s.id.iter().find(|&&g| g < 0 || g as usize >= ids) {
        return Err(MatchError::Id("schedule id", i64::from(bad)));
    }
    if let Some(&bad) = s
        .plant_of_id
        .iter()
        .find(|&&p| p < 0 || p as usize >= s.plant_len.len())
    {
        return Err(MatchError::Id("plant", i64::from(bad)));
    }
    // every message's id belongs to its own plant (latencies are filed per plant)
    let mut from = 0usize;
    for (p, &len) in s.plant_len.iter().enumerate() {
        let to = from + len as usize;
        if let Some(&bad) = s.id[from..to]
            .iter()
            .find(|&&g| s.plant_of_id[g as usize] as usize != p)
        {
            return Err(MatchError::Id(
                "schedule id of another plant",
                i64::from(bad),
            ));
        }
        from = to;
    }
    if let Some(&bad) = a.id_of_topic.iter().find(|&&g| g >= 0 && g as usize >= ids) {
        return Err(MatchError::Id("topic id", i64::from(bad)));
    }
    if let Some(&bad) = a
        .topic_index
        .iter()
        .find(|&&t| t as usize >= a.id_of_topic.len())
    {
        return Err(MatchError::Id("topic index", i64::from(bad)));
    }
    Ok(())
}

/// Prefix sums: `starts[i]` = sum of `counts[..i]`.
fn starts_of(counts: &[usize]) -> Vec<usize> {
    let mut acc = 0;
    counts
        .iter()
        .map(|&c| {
            let s = acc;
            acc += c;
            s
        })
        .collect()
}

/// Matches `arrivals` to `schedule` (see the module documentation) with time bins of
/// `bin_ns` for the timeline.
pub fn match_arrivals(
    schedule: &Schedule<'_>,
    arrivals: &Arrivals<'_>,
    bin_ns: i64,
) -> Result<MatchStats, MatchError> {
    check(schedule, arrivals, bin_ns)?;
    let ids = schedule.plant_of_id.len();
    let n_exp = schedule.id.len();
    let plants = schedule.plant_len.len();

    // expected messages grouped by id, in publish order within an id (counting sort)
    let mut id_count = vec![0usize; ids];
    for &g in schedule.id {
        id_count[g as usize] += 1;
    }
    let id_start = starts_of(&id_count);
    let mut cursor = id_start.clone();
    let mut by_id = vec![0u32; n_exp];
    for (i, &g) in schedule.id.iter().enumerate() {
        let c = &mut cursor[g as usize];
        by_id[*c] = i as u32;
        *c += 1;
    }

    // plant of each expected message's position, and the segments per plant
    let plant_counts: Vec<usize> = schedule.plant_len.iter().map(|&n| n as usize).collect();
    let plant_start = starts_of(&plant_counts);

    // time bins of the due times
    let t0 = schedule.due_ns.iter().copied().min().unwrap_or(0);
    let due_max = schedule.due_ns.iter().copied().max().unwrap_or(i64::MIN);
    let mut arrival_max = i64::MIN;
    let mut strays = 0u64;
    for (&t, &ns) in arrivals.topic_index.iter().zip(arrivals.arrival_ns) {
        if arrivals.id_of_topic[t as usize] >= 0 {
            arrival_max = arrival_max.max(ns);
        } else {
            strays += 1;
        }
    }
    let bins = if n_exp == 0 {
        0
    } else {
        ((due_max.max(arrival_max) - t0) / bin_ns) as usize + 1
    };
    let bin_of = |ns: i64| -> usize { (((ns - t0) / bin_ns) as usize).min(bins - 1) };
    let mut offered = vec![0u64; bins];
    for &d in schedule.due_ns {
        offered[bin_of(d)] += 1;
    }
    let bin_counts: Vec<usize> = offered.iter().map(|&c| c as usize).collect();
    let bin_start = starts_of(&bin_counts);

    // one pass over the arrivals
    let mut taken = vec![0usize; ids];
    let mut by_plant = vec![0i64; n_exp];
    let mut plant_fill = plant_start.clone();
    let mut by_bin = vec![0i64; n_exp];
    let mut bin_fill = bin_start.clone();
    let mut delivered = vec![0u64; bins];
    let mut stats = vec![PlantStats::default(); plants];
    let mut last_row: Vec<i64> = vec![-1; plants];
    for (&t, &ns) in arrivals.topic_index.iter().zip(arrivals.arrival_ns) {
        let g = arrivals.id_of_topic[t as usize];
        if g < 0 {
            continue;
        }
        let g = g as usize;
        let p = schedule.plant_of_id[g] as usize;
        stats[p].received += 1;
        if ns >= t0 {
            delivered[bin_of(ns)] += 1;
        }
        let rank = taken[g];
        if rank >= id_count[g] {
            continue; // a duplicate
        }
        taken[g] = rank + 1;
        let msg = by_id[id_start[g] + rank] as usize;
        let st = &mut stats[p];
        st.matched += 1;
        let row = msg as i64;
        if row < last_row[p] {
            st.reordered += 1;
        } else {
            last_row[p] = row;
        }
        let due = schedule.due_ns[msg];
        let lat = ns - due;
        by_plant[plant_fill[p]] = lat;
        plant_fill[p] += 1;
        let b = bin_of(due);
        by_bin[bin_fill[b]] = lat;
        bin_fill[b] += 1;
    }

    for (p, st) in stats.iter_mut().enumerate() {
        st.latency = latency_of(&mut by_plant[plant_start[p]..plant_fill[p]]);
    }
    let mut bin_p50 = vec![f64::NAN; bins];
    let mut bin_p99 = vec![f64::NAN; bins];
    for b in 0..bins {
        let q = quantiles(&mut by_bin[bin_start[b]..bin_fill[b]], &[0.50, 0.99]);
        bin_p50[b] = q[0];
        bin_p99[b] = q[1];
    }
    // the plants' segments, moved together, hold every matched latency
    let mut end = 0;
    for p in 0..plants {
        let (s, e) = (plant_start[p], plant_fill[p]);
        by_plant.copy_within(s..e, end);
        end += e - s;
    }
    let latency = latency_of(&mut by_plant[..end]);

    Ok(MatchStats {
        plants: stats,
        strays,
        latency,
        t0_ns: t0,
        due_max_ns: due_max,
        arrival_max_ns: arrival_max,
        offered,
        delivered,
        bin_p50,
        bin_p99,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn percentile_sorted(sorted: &[i64], q: f64) -> f64 {
        let (lo, gamma) = lerp_rank(sorted.len(), q);
        let a = sorted[lo] as f64;
        if gamma > 0.0 && lo + 1 < sorted.len() {
            lerp(a, sorted[lo + 1] as f64, gamma)
        } else {
            a
        }
    }

    #[test]
    fn selection_gives_the_percentiles_of_sorting() {
        let mut seed = 7u64;
        for n in [1usize, 2, 3, 10, 99, 100, 101, 1000, 4097] {
            let mut v: Vec<i64> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    ((seed >> 33) % 1000) as i64
                })
                .collect();
            let mut sorted = v.clone();
            sorted.sort_unstable();
            let got = quantiles(&mut v, &[0.0, 0.5, 0.95, 0.99, 1.0]);
            for (q, g) in [0.0, 0.5, 0.95, 0.99, 1.0].iter().zip(&got) {
                assert!(
                    (percentile_sorted(&sorted, *q) - g).abs() < 1e-9,
                    "n={n} q={q}"
                );
            }
        }
    }

    #[test]
    fn arrivals_pair_with_the_schedule_per_topic_in_order() {
        // plant 0: ids 0,1 alternating, 1 ms apart; plant 1: id 2
        let id = [0, 1, 0, 1, 2, 2];
        let due = [0, 1_000_000, 2_000_000, 3_000_000, 0, 1_000_000];
        let schedule = Schedule {
            id: &id,
            due_ns: &due,
            plant_len: &[4, 2],
            plant_of_id: &[0, 0, 1],
        };
        // topics as the subscriber saw them: 0 → id 1, 1 → id 0, 2 → stray, 3 → id 2
        let id_of_topic = [1, 0, -1, 2];
        // id 0 twice, id 1 once then a duplicate of id 1 twice, a stray, id 2 once
        let topic_index = [1, 0, 1, 2, 3, 0, 0];
        let arrival_ns = [5, 1_000_010, 2_000_005, 7, 100, 3_000_020, 4_000_000];
        let arrivals = Arrivals {
            topic_index: &topic_index,
            id_of_topic: &id_of_topic,
            arrival_ns: &arrival_ns,
        };
        let m = match_arrivals(&schedule, &arrivals, 1_000_000_000).unwrap();
        assert_eq!(m.strays, 1);
        assert_eq!(m.plants[0].received, 5);
        assert_eq!(m.plants[0].matched, 4);
        assert_eq!(m.plants[1].matched, 1);
        let lat = m.plants[0].latency.unwrap();
        assert!((lat.max - 20.0).abs() < 1e-9);
        assert_eq!(m.offered, vec![6]);
        assert_eq!(m.delivered, vec![6]);
        assert!((m.plants[1].latency.unwrap().p50 - 100.0).abs() < 1e-9);
    }

    #[test]
    fn reordering_counts_arrivals_behind_a_later_message() {
        let id = [0, 0, 0];
        let due = [0, 10, 20];
        let schedule = Schedule {
            id: &id,
            due_ns: &due,
            plant_len: &[3],
            plant_of_id: &[0],
        };
        // same topic: arrivals pair in order, so no reordering can show on one topic
        let m = match_arrivals(
            &schedule,
            &Arrivals {
                topic_index: &[0, 0, 0],
                id_of_topic: &[0],
                arrival_ns: &[30, 31, 32],
            },
            1000,
        )
        .unwrap();
        assert_eq!(m.plants[0].reordered, 0);
        // two topics: the second message (id 1) arrives before the first (id 0)
        let id = [0, 1, 0];
        let schedule = Schedule {
            id: &id,
            ..schedule
        };
        let schedule = Schedule {
            plant_of_id: &[0, 0],
            ..schedule
        };
        let m = match_arrivals(
            &schedule,
            &Arrivals {
                topic_index: &[1, 0, 0],
                id_of_topic: &[0, 1],
                arrival_ns: &[30, 31, 32],
            },
            1000,
        )
        .unwrap();
        assert_eq!(m.plants[0].reordered, 1);
        assert_eq!(m.plants[0].matched, 3);
    }

    #[test]
    fn bad_ids_are_errors_not_panics() {
        let schedule = Schedule {
            id: &[0, 5],
            due_ns: &[0, 1],
            plant_len: &[2],
            plant_of_id: &[0],
        };
        let arrivals = Arrivals {
            topic_index: &[],
            id_of_topic: &[],
            arrival_ns: &[],
        };
        assert!(matches!(
            match_arrivals(&schedule, &arrivals, 1),
            Err(MatchError::Id(_, 5))
        ));
        // plant 1's message carries plant 0's id: its latency would land in plant 0's
        // segment, which has no room for it
        let schedule = Schedule {
            id: &[0, 0],
            due_ns: &[0, 1],
            plant_len: &[1, 1],
            plant_of_id: &[0],
        };
        assert!(matches!(
            match_arrivals(&schedule, &arrivals, 1),
            Err(MatchError::Id(_, 0))
        ));
    }
}
