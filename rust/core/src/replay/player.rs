//! The replay schedule and its state machine, free of threads, sockets and real clocks.
//!
//! Every deadline is absolute: `base_instant + (offset - base_offset) / speed`. Pause, seek,
//! speed changes and loops only move the base, so no error accumulates from message to
//! message. Tests drive this type with a fake clock.

/// Which last values to publish before playing from a position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prime {
    Off,
    /// The last message of every topic whose last message before the position was retained.
    Retained,
    /// The last message of every topic before the position.
    All,
}

/// The messages in replay order (stable sort by timestamp of the topic-filtered messages).
#[derive(Debug, Clone, Default)]
pub struct Schedule {
    /// Message index (file order) per position.
    pub msg: Vec<u32>,
    /// Offset from the session start, µs, per position (non-decreasing).
    pub raw_us: Vec<i64>,
    /// Offset after idle-gap compression, µs, per position (non-decreasing).
    pub virt_us: Vec<i64>,
    /// Topic id per position (for priming).
    pub topic: Vec<u32>,
    /// Recorded retain flag per position (for priming).
    pub retain: Vec<bool>,
}

impl Schedule {
    /// Builds the schedule. `ts_us[i]` is `None` for a message without a timestamp: it takes
    /// the previous message's time (file order), or the first known time at the start.
    pub fn build(
        ts_us: &[Option<i64>],
        topic: &[u32],
        retain: &[bool],
        allowed: &dyn Fn(u32) -> bool,
        compress_gap_us: Option<i64>,
    ) -> Schedule {
        let first_known = ts_us.iter().flatten().next().copied().unwrap_or(0);
        let mut filled = Vec::with_capacity(ts_us.len());
        let mut last = first_known;
        for t in ts_us {
            if let Some(v) = t {
                last = *v;
            }
            filled.push(last);
        }
        let t0 = filled.iter().copied().min().unwrap_or(0);
        let mut idx: Vec<u32> = (0..ts_us.len() as u32)
            .filter(|&i| allowed(topic[i as usize]))
            .collect();
        idx.sort_by_key(|&i| filled[i as usize]); // stable: file order breaks ties
        let raw_us: Vec<i64> = idx.iter().map(|&i| filled[i as usize] - t0).collect();
        let mut virt_us = Vec::with_capacity(raw_us.len());
        let mut acc = 0i64;
        for (k, &r) in raw_us.iter().enumerate() {
            if k > 0 {
                let gap = r - raw_us[k - 1];
                acc += compress_gap_us.map_or(gap, |g| gap.min(g));
            } else {
                acc = r;
            }
            virt_us.push(acc);
        }
        Schedule {
            topic: idx.iter().map(|&i| topic[i as usize]).collect(),
            retain: idx.iter().map(|&i| retain[i as usize]).collect(),
            msg: idx,
            raw_us,
            virt_us,
        }
    }

    pub fn len(&self) -> usize {
        self.msg.len()
    }

    pub fn is_empty(&self) -> bool {
        self.msg.is_empty()
    }

    /// First position whose raw offset is at or after `raw`.
    pub fn position_at(&self, raw: i64) -> usize {
        self.raw_us.partition_point(|&r| r < raw)
    }

    /// The virtual offset that corresponds to a raw offset.
    pub fn virt_at(&self, raw: i64) -> i64 {
        let k = self.position_at(raw);
        if k == 0 {
            return self
                .virt_us
                .first()
                .map_or(0, |&v| v - (self.raw_us[0] - raw).max(0));
        }
        if k >= self.len() {
            let last = self.len() - 1;
            return self.virt_us[last] + (raw - self.raw_us[last]).max(0);
        }
        let into = raw - self.raw_us[k - 1];
        self.virt_us[k - 1] + into.min(self.virt_us[k] - self.virt_us[k - 1])
    }
}

/// What the engine should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Publish message `msg` (file index) now; `deadline_ns` is when it was due.
    Publish {
        msg: u32,
        deadline_ns: u64,
        primed: bool,
    },
    /// Nothing is due before `deadline_ns`.
    Wait {
        deadline_ns: u64,
    },
    Paused,
    Finished,
}

/// Where the player stands, for status displays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    /// Raw offset from the session start, µs.
    pub raw_us: i64,
    /// Position index within the window (0-based) and window length.
    pub index: usize,
    pub total: usize,
}

/// The replay state machine over a [`Schedule`].
#[derive(Debug, Clone)]
pub struct Player {
    pub sched: Schedule,
    win: (usize, usize),
    pos: usize,
    base_ns: u64,
    base_virt: i64,
    /// 0.0 means as fast as possible.
    speed: f64,
    paused: bool,
    paused_virt: i64,
    looping: bool,
    prime: Prime,
    primes: std::collections::VecDeque<u32>,
    pub loops: u64,
    stopped: bool,
}

fn scale(delta_virt_us: i64, speed: f64) -> i64 {
    if speed <= 0.0 {
        0
    } else {
        ((delta_virt_us as f64) * 1000.0 / speed).round() as i64
    }
}

impl Player {
    /// A player over the window `[from_raw, to_raw]` (µs from the session start, inclusive).
    pub fn new(sched: Schedule, from_raw: Option<i64>, to_raw: Option<i64>, prime: Prime) -> Self {
        let start = from_raw.map_or(0, |r| sched.position_at(r));
        let end = to_raw.map_or(sched.len(), |r| sched.raw_us.partition_point(|&x| x <= r));
        let end = end.max(start);
        let base_virt = from_raw.map_or_else(
            || sched.virt_us.get(start).copied().unwrap_or(0),
            |r| sched.virt_at(r),
        );
        Player {
            sched,
            win: (start, end),
            pos: start,
            base_ns: 0,
            base_virt,
            speed: 1.0,
            paused: false,
            paused_virt: base_virt,
            looping: false,
            prime,
            primes: std::collections::VecDeque::new(),
            loops: 0,
            stopped: false,
        }
    }

    /// Starts at clock time `now_ns` (queues priming for the window start).
    pub fn start(&mut self, now_ns: u64, speed: f64, looping: bool) {
        self.speed = speed.max(0.0);
        self.looping = looping;
        self.base_ns = now_ns;
        self.queue_primes();
    }

    fn queue_primes(&mut self) {
        self.primes.clear();
        if self.prime == Prime::Off || self.pos == 0 {
            return;
        }
        let mut seen = std::collections::HashSet::new();
        let mut picked = Vec::new();
        for k in (0..self.pos).rev() {
            let t = self.sched.topic[k];
            if seen.insert(t) && (self.prime == Prime::All || self.sched.retain[k]) {
                picked.push(k);
            }
        }
        picked.reverse();
        self.primes
            .extend(picked.into_iter().map(|k| self.sched.msg[k]));
    }

    fn virt_now(&self, now_ns: u64) -> i64 {
        if self.paused {
            return self.paused_virt;
        }
        if self.speed <= 0.0 {
            // As fast as possible: the position is the next message's offset.
            return self
                .sched
                .virt_us
                .get(self.pos)
                .copied()
                .unwrap_or(self.base_virt);
        }
        let elapsed = now_ns.saturating_sub(self.base_ns) as f64 / 1000.0;
        self.base_virt + (elapsed * self.speed) as i64
    }

    /// When (on the monotonic clock of `next`) the window's first message is due under the
    /// current base and speed; None while paused or as fast as possible. Every later message
    /// k is due `(virt_us[k] - virt_us[first]) / speed` after it, until the next pause, seek
    /// or speed change.
    pub fn origin_due_ns(&self) -> Option<i64> {
        if self.paused || self.speed <= 0.0 {
            return None;
        }
        let first = *self.sched.virt_us.get(self.win.0)?;
        Some(self.base_ns as i64 + scale(first - self.base_virt, self.speed))
    }

    fn deadline(&self, k: usize) -> u64 {
        let d = self.sched.virt_us[k] - self.base_virt;
        (self.base_ns as i64 + scale(d, self.speed)).max(0) as u64
    }

    /// What to do at `now_ns`. Call [`Player::published`] after a `Publish` went out.
    pub fn next(&mut self, now_ns: u64) -> Step {
        if self.stopped {
            return Step::Finished;
        }
        if let Some(&msg) = self.primes.front() {
            return Step::Publish {
                msg,
                deadline_ns: now_ns,
                primed: true,
            };
        }
        if self.paused {
            return Step::Paused;
        }
        if self.pos >= self.win.1 {
            if self.looping && self.win.1 > self.win.0 {
                self.loops += 1;
                self.pos = self.win.0;
                self.base_virt = self.sched.virt_us[self.pos];
                self.base_ns = now_ns;
            } else {
                return Step::Finished;
            }
        }
        let deadline_ns = if self.speed <= 0.0 {
            now_ns
        } else {
            self.deadline(self.pos)
        };
        if deadline_ns > now_ns {
            Step::Wait { deadline_ns }
        } else {
            Step::Publish {
                msg: self.sched.msg[self.pos],
                deadline_ns,
                primed: false,
            }
        }
    }

    /// The message returned by the last `next` went out.
    pub fn published(&mut self, primed: bool) {
        if primed {
            self.primes.pop_front();
        } else {
            self.pos += 1;
        }
    }

    pub fn pause(&mut self, now_ns: u64) {
        if !self.paused {
            self.paused_virt = self.virt_now(now_ns);
            self.paused = true;
        }
    }

    pub fn resume(&mut self, now_ns: u64) {
        if self.paused {
            self.paused = false;
            self.base_virt = self.paused_virt;
            self.base_ns = now_ns;
        }
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    pub fn set_speed(&mut self, now_ns: u64, speed: f64) {
        let v = self.virt_now(now_ns);
        self.base_virt = v;
        self.base_ns = now_ns;
        self.speed = speed.max(0.0);
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    pub fn set_loop(&mut self, looping: bool) {
        self.looping = looping;
    }

    /// Seeks to a raw offset (µs from session start), clamped to the window; primes again.
    pub fn seek_raw(&mut self, now_ns: u64, raw: i64) {
        let lo = self.sched.raw_us.get(self.win.0).copied().unwrap_or(0);
        let raw = raw.max(lo);
        let k = self.sched.position_at(raw).clamp(self.win.0, self.win.1);
        self.pos = k;
        let v = self.sched.virt_at(raw);
        self.base_virt = v;
        self.paused_virt = v;
        self.base_ns = now_ns;
        self.queue_primes();
    }

    /// Seeks to the `index`-th message of the window.
    pub fn seek_index(&mut self, now_ns: u64, index: usize) {
        let k = (self.win.0 + index).min(self.win.1);
        let raw = self
            .sched
            .raw_us
            .get(k)
            .copied()
            .unwrap_or_else(|| self.sched.raw_us.last().copied().unwrap_or(0));
        self.seek_raw(now_ns, raw);
        self.pos = k;
    }

    /// While paused: the next message to publish at once (the caller then calls `published`).
    pub fn step(&mut self) -> Option<u32> {
        if !self.paused || self.pos >= self.win.1 {
            return None;
        }
        let msg = self.sched.msg[self.pos];
        self.paused_virt = self.sched.virt_us[self.pos];
        Some(msg)
    }

    pub fn stop(&mut self) {
        self.stopped = true;
    }

    pub fn position(&self, now_ns: u64) -> Position {
        let v = self.virt_now(now_ns);
        // Map the virtual position back to raw time through the next message.
        let raw = match self.sched.raw_us.get(self.pos) {
            Some(&r) => r - (self.sched.virt_us[self.pos] - v).max(0),
            None => self.sched.raw_us.last().copied().unwrap_or(0),
        };
        Position {
            raw_us: raw.max(0),
            index: self.pos - self.win.0,
            total: self.win.1 - self.win.0,
        }
    }

    pub fn window(&self) -> (usize, usize) {
        self.win
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift: deterministic pseudo-random cases without a dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    fn random_session(rng: &mut Rng) -> (Vec<Option<i64>>, Vec<u32>, Vec<bool>) {
        let n = rng.below(60) as usize;
        let mut t = 1_000_000i64;
        let mut ts = Vec::new();
        let (mut topic, mut retain) = (Vec::new(), Vec::new());
        for _ in 0..n {
            // Mostly increasing, sometimes equal, sometimes out of order, sometimes missing.
            match rng.below(10) {
                0 => ts.push(None),
                1 => ts.push(Some(t)),
                2 => ts.push(Some(t - rng.below(5000) as i64)),
                _ => {
                    t += rng.below(400_000) as i64;
                    ts.push(Some(t));
                }
            }
            topic.push(rng.below(5) as u32);
            retain.push(rng.below(3) == 0);
        }
        (ts, topic, retain)
    }

    /// Runs a player with a fake clock: waits jump the clock to the deadline.
    fn drive(p: &mut Player, mut script: impl FnMut(&mut Player, u64, usize)) -> Vec<(u32, bool)> {
        let mut now = 0u64;
        let mut out = Vec::new();
        let mut steps = 0;
        loop {
            script(p, now, out.len());
            steps += 1;
            assert!(steps < 100_000, "player does not terminate");
            match p.next(now) {
                Step::Publish {
                    msg,
                    deadline_ns,
                    primed,
                } => {
                    assert!(deadline_ns <= now);
                    out.push((msg, primed));
                    p.published(primed);
                }
                Step::Wait { deadline_ns } => {
                    assert!(deadline_ns > now);
                    now = deadline_ns;
                }
                Step::Paused => {
                    now += 1_000_000;
                    p.resume(now);
                }
                Step::Finished => return out,
            }
        }
    }

    fn stable_sorted(ts: &[Option<i64>], allowed: &dyn Fn(u32) -> bool, topic: &[u32]) -> Vec<u32> {
        let mut last = ts.iter().flatten().next().copied().unwrap_or(0);
        let filled: Vec<i64> = ts
            .iter()
            .map(|t| {
                if let Some(v) = t {
                    last = *v;
                }
                last
            })
            .collect();
        let mut idx: Vec<u32> = (0..ts.len() as u32)
            .filter(|&i| allowed(topic[i as usize]))
            .collect();
        idx.sort_by_key(|&i| filled[i as usize]);
        idx
    }

    #[test]
    fn order_is_stable_sort_and_each_message_once() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for case in 0..500 {
            let (ts, topic, retain) = random_session(&mut rng);
            let banned = rng.below(6) as u32;
            let allowed = move |t: u32| t != banned;
            let sched = Schedule::build(&ts, &topic, &retain, &allowed, None);
            let expect = stable_sorted(&ts, &allowed, &topic);
            let mut p = Player::new(sched, None, None, Prime::Off);
            let speed = [0.0, 0.5, 1.0, 7.0][rng.below(4) as usize];
            p.start(0, speed, false);
            // Random speed changes and pauses never reorder or drop anything.
            let mut r2 = Rng(case + 1);
            let got = drive(&mut p, |p, now, _| match r2.below(20) {
                0 => p.set_speed(now, [0.0, 0.1, 2.0, 100.0][r2.below(4) as usize]),
                1 => p.pause(now),
                _ => {}
            });
            let got: Vec<u32> = got.into_iter().map(|(m, _)| m).collect();
            assert_eq!(got, expect, "case {case}");
        }
    }

    #[test]
    fn deadlines_are_absolute_and_scaled() {
        let ts: Vec<Option<i64>> = (0..100).map(|i| Some(i * 10_000)).collect();
        let sched = Schedule::build(&ts, &[0; 100], &[false; 100], &|_| true, None);
        let mut p = Player::new(sched, None, None, Prime::Off);
        p.start(1_000, 2.0, false);
        for k in 0..100u64 {
            match p.next(0) {
                Step::Wait { deadline_ns } | Step::Publish { deadline_ns, .. } => {
                    assert_eq!(deadline_ns, 1_000 + k * 5_000_000);
                }
                s => panic!("{s:?}"),
            }
            p.published(false);
        }
        assert_eq!(p.next(0), Step::Finished);
    }

    #[test]
    fn loop_sends_each_message_once_per_round() {
        let ts: Vec<Option<i64>> = (0..10).map(|i| Some(i * 1000)).collect();
        let sched = Schedule::build(&ts, &[0; 10], &[false; 10], &|_| true, None);
        let mut p = Player::new(sched, Some(2000), Some(6000), Prime::Off);
        p.start(0, 1.0, true);
        let got = drive(&mut p, |p, _, n| {
            if n == 15 {
                p.set_loop(false);
            }
        });
        let got: Vec<u32> = got.into_iter().map(|(m, _)| m).collect();
        assert_eq!(&got[..15], &[2, 3, 4, 5, 6, 2, 3, 4, 5, 6, 2, 3, 4, 5, 6]);
        assert_eq!(got.len(), 15);
        assert_eq!(p.loops, 2);
    }

    #[test]
    fn priming_publishes_last_values_before_the_position() {
        let mut rng = Rng(42);
        for _ in 0..300 {
            let (ts, topic, retain) = random_session(&mut rng);
            let sched = Schedule::build(&ts, &topic, &retain, &|_| true, None);
            if sched.is_empty() {
                continue;
            }
            let cut = sched.raw_us[rng.below(sched.len() as u64) as usize];
            for mode in [Prime::Retained, Prime::All] {
                let mut p = Player::new(sched.clone(), Some(cut), None, mode);
                p.start(0, 0.0, false);
                let out = drive(&mut p, |_, _, _| {});
                let primed: Vec<u32> = out.iter().filter(|(_, pr)| *pr).map(|(m, _)| *m).collect();
                // Expected: per topic, the last message before the cut position.
                let k0 = sched.position_at(cut);
                let mut expect = Vec::new();
                for k in 0..k0 {
                    let t = sched.topic[k];
                    let last = (0..k0).rev().find(|&j| sched.topic[j] == t).unwrap();
                    if last == k && (mode == Prime::All || sched.retain[k]) {
                        expect.push(sched.msg[k]);
                    }
                }
                assert_eq!(primed, expect);
                // Primes come first, then the window in order.
                let n = primed.len();
                assert!(out[..n].iter().all(|(_, pr)| *pr));
                assert_eq!(out.len() - n, sched.len() - k0);
            }
        }
    }

    #[test]
    fn seek_and_step() {
        let ts: Vec<Option<i64>> = (0..10).map(|i| Some(i * 1_000_000)).collect();
        let sched = Schedule::build(&ts, &[0; 10], &[false; 10], &|_| true, None);
        let mut p = Player::new(sched, None, None, Prime::Off);
        p.start(0, 1.0, false);
        p.seek_raw(0, 5_500_000);
        assert_eq!(p.position(0).index, 6);
        match p.next(0) {
            Step::Wait { deadline_ns } => assert_eq!(deadline_ns, 500_000_000),
            s => panic!("{s:?}"),
        }
        p.pause(0);
        assert_eq!(p.step(), Some(6));
        p.published(false);
        assert_eq!(p.step(), Some(7));
        p.published(false);
        p.seek_index(0, 1);
        assert_eq!(p.step(), Some(1));
    }

    #[test]
    fn gap_compression_caps_idle_time() {
        let ts = vec![Some(0), Some(1_000), Some(400_000_000), Some(400_001_000)];
        let s = Schedule::build(&ts, &[0; 4], &[false; 4], &|_| true, Some(2_000_000));
        assert_eq!(s.virt_us, vec![0, 1_000, 2_001_000, 2_002_000]);
        assert_eq!(s.raw_us[2], 400_000_000);
    }
}
