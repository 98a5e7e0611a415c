//! Times `session::open` on one file in index and full mode (best of 3).
//!
//! `cargo run --release --example read_bench -- FILE [RUNS] [index|full]`

use std::path::PathBuf;
use std::time::Instant;

use mqtt_replay_core::ndjson::Mode;
use mqtt_replay_core::session::{open, Options};

/// User plus system CPU seconds of this process so far.
fn cpu_seconds() -> f64 {
    // SAFETY: `getrusage` only writes into the zeroed struct we pass.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, std::ptr::addr_of_mut!(ru));
        ru
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// A digest of every column of every batch (to compare two builds' output).
fn digest(s: &mqtt_replay_core::Session) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for b in &s.batches {
        for col in b.columns() {
            let data = col.to_data();
            format!("{:?}", data.data_type()).hash(&mut h);
            for buf in data.buffers() {
                buf.as_slice().hash(&mut h);
            }
            for child in data.child_data() {
                for buf in child.buffers() {
                    buf.as_slice().hash(&mut h);
                }
            }
            if let Some(n) = data.nulls() {
                n.iter().collect::<Vec<_>>().hash(&mut h);
            }
        }
    }
    for k in &s.skipped {
        (k.line, &k.reason, &k.text).hash(&mut h);
    }
    h.finish()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(
        args.next()
            .expect("usage: read_bench FILE [RUNS] [index|full]"),
    );
    let runs: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(3);
    let modes = match args.next().as_deref() {
        Some("index") => vec![Mode::Index],
        Some("full") => vec![Mode::Full],
        _ => vec![Mode::Index, Mode::Full],
    };
    for mode in modes {
        let opts = Options {
            mode,
            ..Options::default()
        };
        let mut best = f64::INFINITY;
        let mut best_cpu = f64::INFINITY;
        for _ in 0..runs {
            let cpu = cpu_seconds();
            let t = Instant::now();
            let s = open(&path, &opts, None).expect("open");
            let secs = t.elapsed().as_secs_f64();
            let cpu = cpu_seconds() - cpu;
            best = best.min(secs);
            best_cpu = best_cpu.min(cpu);
            println!(
                "{mode:?}: {secs:.3} s, cpu {cpu:.3} s ({} rows, {} skipped, {} batches)",
                s.rows,
                s.skipped.len(),
                s.batches.len()
            );
            if std::env::var_os("READ_BENCH_HASH").is_some() {
                println!("{mode:?} digest {:016x}", digest(&s));
            }
            drop(s);
        }
        println!("{mode:?} best of {runs}: {best:.3} s (cpu {best_cpu:.3} s)");
    }
}
