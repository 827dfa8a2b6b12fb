//! Parses Telegraf `cpu` bodies in a loop, for profiling the line-protocol parser with `perf`
//! (no Python in the way) and for A/B timing of parser changes:
//!
//! ```sh
//! cargo run --release --example lineproto_profile -- [full|2|N digits] [series] [reps] [shuffled]
//! perf record -g target/release/examples/lineproto_profile 2
//! ```
//!
//! The data matches benches/bench_lineproto.py's Telegraf rows: 3 tags, 10 float fields,
//! 5,000-line bodies over `series` series, parsed through one `SeriesIndex` as the server does.
//! Series go round in order (every body uses them in the same order), or with `shuffled` each
//! line's series is drawn at random (as bench_server's bodies: every body's order differs).

use _native::lineproto::{parse, Precision, SeriesIndex};

const FIELDS: [&str; 10] = [
    "usage_user",
    "usage_system",
    "usage_idle",
    "usage_nice",
    "usage_iowait",
    "usage_irq",
    "usage_softirq",
    "usage_steal",
    "usage_guest",
    "usage_guest_nice",
];
const REGIONS: [&str; 4] = ["us-west", "us-east", "eu-central", "ap-south"];

/// xorshift: reproducible values without a dependency.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self, hi: f64) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64 * hi
    }
}

struct Shape {
    series: usize,
    digits: Option<usize>,
    shuffled: bool,
}

fn body(rng: &mut Rng, lines: usize, shape: &Shape, t0: i64) -> Vec<u8> {
    let (series, digits) = (shape.series, shape.digits);
    let mut out = String::new();
    for i in 0..lines {
        let s = if shape.shuffled {
            (rng.uniform(series as f64) as usize).min(series - 1)
        } else {
            i % series
        };
        let (c, h) = (s % 8, s / 8);
        out.push_str(&format!(
            "cpu,cpu=cpu{c},host=host{h:05},region={} ",
            REGIONS[h % 4]
        ));
        for (k, f) in FIELDS.iter().enumerate() {
            let v = rng.uniform(100.0);
            let sep = if k == 0 { "" } else { "," };
            match digits {
                None => out.push_str(&format!("{sep}{f}={v:?}")),
                Some(d) => out.push_str(&format!("{sep}{f}={v:.d$}")),
            }
        }
        out.push_str(&format!(" {}\n", t0 + i as i64 * 10_000_000));
    }
    out.into_bytes()
}

/// This thread's CPU time: robust when other jobs share the machine (wall time is not).
fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a pointer to a timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let digits = match args.get(1).map(String::as_str) {
        None | Some("full") => None,
        Some(d) => Some(d.parse().expect("digits")),
    };
    let series: usize = args.get(2).map_or(1600, |s| s.parse().expect("series"));
    let reps: usize = args.get(3).map_or(200, |s| s.parse().expect("reps"));
    let shape = Shape {
        series,
        digits,
        shuffled: args.get(4).is_some_and(|a| a == "shuffled"),
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let bodies: Vec<Vec<u8>> = (0..20)
        .map(|b| {
            body(
                &mut rng,
                5000,
                &shape,
                1_700_000_000_000_000_000 + b * 50_000_000_000,
            )
        })
        .collect();
    let mut idx = SeriesIndex::default();
    for b in &bodies {
        idx.parse(b, Precision::Nanosecond, 0, 1);
    }
    let mut best = f64::MAX;
    for _ in 0..reps / bodies.len() {
        let t = cpu_seconds();
        for b in &bodies {
            let out = idx.parse(b, Precision::Nanosecond, 0, 1);
            assert!(out.errors.is_empty() && out.batch.len() == 5000);
        }
        best = best.min(cpu_seconds() - t);
    }
    let lines = (bodies.len() * 5000) as f64;
    println!(
        "best {:.1} ns/line (CPU time), {:.2} M lines/s",
        best / lines * 1e9,
        lines / best / 1e6
    );
    // The peer of the per-body cost: the same lines as one body, parsed without an index.
    let whole = bodies.concat();
    let mut best_whole = f64::MAX;
    for _ in 0..(reps / bodies.len()).clamp(1, 5) {
        let t = cpu_seconds();
        let out = parse(&whole, Precision::Nanosecond, 0);
        assert!(out.errors.is_empty() && out.batch.len() == bodies.len() * 5000);
        best_whole = best_whole.min(cpu_seconds() - t);
    }
    println!(
        "one body of the same lines: {:.1} ns/line; 5,000-line bodies cost {:.2}x",
        best_whole / lines * 1e9,
        best / best_whole
    );
}
