//! Parsing a large body on several threads: the body is cut at newlines into one piece per
//! thread, each piece is parsed by the ordinary parser, and the pieces are merged into the one
//! batch (and error list) that [`parse`] gives for the whole body: same rows in the same order,
//! same first-seen order of series and dictionary entries, same field types, same line numbers.
//!
//! A cut is only good where the whole-body parse starts a new line. The only scans that cross
//! a newline are quoted strings (a string field value, or a bad line's quoted text skipped on
//! the way to the next line); a piece whose string ran into its end says so
//! ([`Part::ran_off`]), and the body is then parsed again on one thread, which is always right.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;

use super::assemble::SeriesCodes;
use super::error::LineError;
use super::key::SeriesInfo;
use super::parser::{estimate_rows, parse, parse_part, ParseOutput, Part};
use super::Precision;
use crate::batch::{group_parts, ColumnPieces};

/// Below this many bytes a body is parsed on one thread. Measured (bench_lineproto.py
/// `--sizes`, 2 vCPUs): 2 threads lose up to 1 MB (0.7-0.9x: a thread start, its fresh malloc
/// arena's page faults and the merge's copies) and win from about 4 MB (1.1x, 1.4x at 140 MB).
pub const MIN_PARALLEL_BYTES: usize = 4 * 1024 * 1024;

/// Each piece gets at least this many bytes, whatever thread count is asked for.
const MIN_PIECE_BYTES: usize = 64 * 1024;

/// Parses `buf` like [`parse`], on up to `threads` threads (the calling one included).
/// `threads == 0` picks: up to 2 threads (fewer when the machine has one core) for bodies of at
/// least [`MIN_PARALLEL_BYTES`], one otherwise. The result does not depend on the thread count.
pub fn parse_threads(buf: &[u8], precision: Precision, now_ns: i64, threads: usize) -> ParseOutput {
    let threads = if threads == 0 {
        auto_threads(buf.len())
    } else {
        threads.min(buf.len() / MIN_PIECE_BYTES).max(1)
    };
    // String offsets are u32: pieces of a body that fits in u32 always merge within range.
    if threads <= 1 || buf.len() > u32::MAX as usize {
        return parse(buf, precision, now_ns);
    }
    // One piece per thread: every piece after the first is copied once more in the merge, and
    // writing fresh pages is what the merge costs (measured: 8 pieces on 2 threads made the
    // merge 2.5x slower than 2 pieces).
    let cuts: Vec<usize> = (1..threads).map(|i| buf.len() / threads * i).collect();
    parse_cut(buf, precision, now_ns, &cuts, threads)
}

/// The thread count `threads == 0` picks for a body of `len` bytes.
pub fn auto_threads(len: usize) -> usize {
    if len < MIN_PARALLEL_BYTES {
        return 1;
    }
    thread::available_parallelism().map_or(1, |n| n.get().min(2))
}

/// Parses `buf` in pieces on up to `threads` threads, cutting after the first newline at or
/// after each of `cuts`. Any cuts give the result of [`parse`] (tests cut everywhere).
pub fn parse_cut(
    buf: &[u8],
    precision: Precision,
    now_ns: i64,
    cuts: &[usize],
    threads: usize,
) -> ParseOutput {
    let bounds = piece_bounds(buf, cuts);
    if bounds.len() <= 2 || threads <= 1 {
        return parse(buf, precision, now_ns);
    }
    // The first piece's columns get room for the whole body: the merge then appends the other
    // pieces behind its rows. Reserved room costs nothing until written (large blocks are
    // mapped lazily), while a piece's columns grown at the merge are copied whole into fresh
    // pages (measured: 2 threads took 1.15x the CPU of 1 thread, most of it that copy).
    let whole = estimate_rows(buf);
    let pieces: Vec<(usize, &[u8])> = bounds
        .windows(2)
        .enumerate()
        .map(|(k, w)| (k, &buf[w[0]..w[1]]))
        .collect();
    let parts = par_map(pieces, threads, |(k, piece)| {
        let rows = if k == 0 { whole } else { estimate_rows(piece) };
        parse_part(piece, precision, now_ns, rows)
    });
    if parts[..parts.len() - 1].iter().any(|p| p.ran_off) {
        return parse(buf, precision, now_ns);
    }
    merge(buf, &bounds, parts, threads)
}

/// `0`, the position after the first newline at or after each cut (ascending, inside the body,
/// no empty piece), then `buf.len()`.
fn piece_bounds(buf: &[u8], cuts: &[usize]) -> Vec<usize> {
    let mut bounds = vec![0];
    for &cut in cuts {
        let from = cut.max(*bounds.last().unwrap_or(&0));
        if from >= buf.len() {
            break;
        }
        match buf[from..].iter().position(|&b| b == b'\n') {
            Some(j) if from + j + 1 < buf.len() => {
                if from + j + 1 > *bounds.last().unwrap_or(&0) {
                    bounds.push(from + j + 1);
                }
            }
            _ => break,
        }
    }
    bounds.push(buf.len());
    bounds
}

/// The pieces as one batch: series and dictionaries renumbered in whole-body first-seen order,
/// rows and fields concatenated, error lines counted from the start of the body. The per-row
/// work (field columns, time, dictionary codes) is spread over `threads` threads, a column at
/// a time.
fn merge(buf: &[u8], bounds: &[usize], parts: Vec<Part>, threads: usize) -> ParseOutput {
    let mut keys = Vec::with_capacity(parts.len());
    let mut field_parts = Vec::with_capacity(parts.len());
    let mut times = Vec::with_capacity(parts.len());
    let mut locals = Vec::with_capacity(parts.len());
    let mut rest = Vec::with_capacity(parts.len());
    for p in parts {
        keys.push(p.keys);
        field_parts.push((p.fields, p.time.len()));
        times.push(p.time);
        locals.push(p.series);
        rest.push((p.order, p.errors));
    }
    let rows: usize = locals.iter().map(Vec::len).sum();
    // A piece's series in its first-seen order, appended when new, give the body's order.
    let mut global: HashMap<&str, u32> = HashMap::new();
    let mut used: Vec<&SeriesInfo> = Vec::new();
    let mut remaps: Vec<Vec<u32>> = Vec::with_capacity(rest.len());
    let mut errors = Vec::new();
    let (mut lines, mut counted) = (0usize, 0usize);
    for ((k, (order, errs)), &start) in keys.iter().zip(rest).zip(bounds) {
        remaps.push(
            order
                .iter()
                .map(|&old| {
                    let info = &k.info[old as usize];
                    *global.entry(info.key.as_str()).or_insert_with(|| {
                        used.push(info);
                        used.len() as u32 - 1
                    })
                })
                .collect(),
        );
        if !errs.is_empty() {
            lines += buf[counted..start].iter().filter(|&&b| b == b'\n').count();
            counted = start;
            errors.extend(errs.into_iter().map(|e| LineError {
                line: e.line + lines,
                ..e
            }));
        }
    }
    let codes = SeriesCodes::new(&used);
    let mut jobs: Vec<Job> = group_parts(field_parts)
        .into_iter()
        .map(Job::Field)
        .collect();
    jobs.push(Job::Time(times));
    jobs.push(Job::Series);
    jobs.extend((0..codes.columns()).map(Job::Codes));
    // Largest first, so that the last job to start is a small one.
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(jobs[i].weight(rows)));
    let mut slots: Vec<Option<Job>> = jobs.into_iter().map(Some).collect();
    let sorted: Vec<Job> = order.iter().filter_map(|&i| slots[i].take()).collect();
    // Each piece's rows map through its own table (local series id -> value) to the body's.
    let through = |table: &dyn Fn(u32) -> u32| -> Vec<u32> {
        let mut out = Vec::with_capacity(rows);
        for (local, remap) in locals.iter().zip(&remaps) {
            let t: Vec<u32> = remap.iter().map(|&g| table(g)).collect();
            out.extend(local.iter().map(|&s| t[s as usize]));
        }
        out
    };
    let done = par_map(sorted, threads, |job| match job {
        Job::Field(pieces) => Done::Field(pieces.merge()),
        Job::Time(mut times) => {
            let mut time = std::mem::take(&mut times[0]);
            time.reserve(times[1..].iter().map(Vec::len).sum());
            for t in &times[1..] {
                time.extend_from_slice(t);
            }
            Done::Time(time)
        }
        Job::Series => Done::Series(through(&|g| g)),
        Job::Codes(col) => Done::Codes(col, through(&|g| codes.code(g, col))),
    });
    let mut time = Vec::new();
    let mut series = Vec::new();
    let mut gathered: Vec<Vec<u32>> = vec![Vec::new(); codes.columns()];
    // Jobs ran in weight order; fields go back into name order.
    let mut fields: Vec<(usize, crate::batch::Column)> = Vec::new();
    for (d, &i) in done.into_iter().zip(&order) {
        match d {
            Done::Field(c) => fields.push((i, c)),
            Done::Time(t) => time = t,
            Done::Series(s) => series = s,
            Done::Codes(col, c) => gathered[col] = c,
        }
    }
    fields.sort_by_key(|(i, _)| *i);
    let fields = fields.into_iter().map(|(_, c)| c).collect();
    let batch = codes.into_batch(time, series, &used, fields, gathered);
    ParseOutput { batch, errors }
}

/// A piece of the merge that does not depend on the others.
enum Job {
    Field(ColumnPieces),
    Time(Vec<Vec<i64>>),
    Series,
    Codes(usize),
}

impl Job {
    fn weight(&self, rows: usize) -> usize {
        match self {
            Job::Field(p) => p.weight(),
            Job::Time(_) => rows * 8,
            Job::Series | Job::Codes(_) => rows * 4,
        }
    }
}

enum Done {
    Field(crate::batch::Column),
    Time(Vec<i64>),
    Series(Vec<u32>),
    Codes(usize, Vec<u32>),
}

/// `items.map(f)` on up to `threads` threads (the calling one included), results in order.
/// Threads take the next item as they finish one.
fn par_map<T: Send, R: Send>(items: Vec<T>, threads: usize, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let n = items.len();
    let slots: Vec<Mutex<(Option<T>, Option<R>)>> = items
        .into_iter()
        .map(|t| Mutex::new((Some(t), None)))
        .collect();
    let next = AtomicUsize::new(0);
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= n {
            return;
        }
        let item = lock(&slots[i]).0.take();
        if let Some(item) = item {
            let r = f(item);
            lock(&slots[i]).1 = Some(r);
        }
    };
    thread::scope(|s| {
        let helpers: Vec<_> = (1..threads.min(n)).map(|_| s.spawn(work)).collect();
        work();
        for h in helpers {
            h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        }
    });
    slots
        .into_iter()
        .filter_map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()).1)
        .collect()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{ColumnData, FieldKind, Value};
    use proptest::prelude::*;

    const NOW: i64 = 1_700_000_000_123_456_789;

    fn serial(buf: &[u8]) -> ParseOutput {
        parse(buf, Precision::Nanosecond, NOW)
    }

    fn cut(buf: &[u8], cuts: &[usize]) -> ParseOutput {
        parse_cut(buf, Precision::Nanosecond, NOW, cuts, 2)
    }

    #[track_caller]
    fn assert_same(buf: &[u8], a: &ParseOutput, b: &ParseOutput) {
        let text = String::from_utf8_lossy(buf);
        assert_eq!(a.errors, b.errors, "errors differ for {text:?}");
        assert_eq!(a.batch, b.batch, "batches differ for {text:?}");
    }

    /// Cuts `buf` at every position (one cut), and at pairs of positions.
    #[track_caller]
    fn check_all_cuts(buf: &[u8]) {
        let want = serial(buf);
        for i in 0..=buf.len() {
            assert_same(buf, &want, &cut(buf, &[i]));
        }
        let step = (buf.len() / 12).max(1);
        for i in (0..buf.len()).step_by(step) {
            for j in (i..buf.len()).step_by(step) {
                assert_same(buf, &want, &cut(buf, &[i, j, j + 3]));
            }
        }
    }

    #[test]
    fn pieces_start_after_newlines() {
        let buf = b"a v=1\nb v=2\nc v=3\n";
        assert_eq!(piece_bounds(buf, &[0]), vec![0, 6, buf.len()]);
        assert_eq!(piece_bounds(buf, &[6, 7]), vec![0, 12, buf.len()]);
        assert_eq!(piece_bounds(buf, &[3, 3, 9]), vec![0, 6, 12, buf.len()]);
        // The last newline ends the body: no empty piece.
        assert_eq!(piece_bounds(buf, &[13]), vec![0, buf.len()]);
        assert_eq!(piece_bounds(b"no newline", &[2]), vec![0, 10]);
    }

    #[test]
    fn series_and_dictionaries_keep_first_seen_order() {
        let buf = b"cpu,host=b v=1 1\nmem,host=a v=2 2\ncpu,host=b v=3 3\ndisk,host=c,dc=x v=4 4\n\
                    mem,host=a v=5 5\ncpu,host=a v=6 6\n";
        let want = serial(buf);
        for i in 0..buf.len() {
            let got = cut(buf, &[i]);
            assert_eq!(got.batch.series_keys, want.batch.series_keys);
            assert_eq!(*got.batch.measurement.dict, vec!["cpu", "mem", "disk"]);
            assert_eq!(*got.batch.tag("host").unwrap().dict, vec!["b", "a", "c"]);
        }
        check_all_cuts(buf);
    }

    #[test]
    fn the_first_piece_has_room_for_the_whole_body() {
        // The merge appends the other pieces behind the first one's rows: with room reserved
        // up front it neither moves nor copies the first piece's columns.
        let body: String = (0..2000)
            .map(|i| format!("cpu,host=h{} a={i}.5,b={i}i {i}\n", i % 7))
            .collect();
        let buf = body.as_bytes();
        let bounds = piece_bounds(buf, &[buf.len() / 2]);
        let first = parse_part(
            &buf[..bounds[1]],
            Precision::Nanosecond,
            NOW,
            estimate_rows(buf),
        );
        assert!(first.time.len() < 2000 && first.time.capacity() >= 2000);
        assert_eq!(first.fields.len(), 2);
        for f in &first.fields {
            assert!(f.column.valid.capacity() >= 2000, "{}", f.column.name);
            match &f.column.data {
                ColumnData::Float(v) => assert!(v.capacity() >= 2000),
                ColumnData::Int(v) => assert!(v.capacity() >= 2000),
                other => panic!("unexpected column {other:?}"),
            }
        }
        assert_same(buf, &serial(buf), &cut(buf, &[buf.len() / 2]));
    }

    #[test]
    fn errors_keep_their_line_and_column() {
        let buf = "ok v=1 1\nbad v= 2\n\nok v=2 3\n☃,x v=1 4\nok v=3 5\r\nbad v=\"x 6\nok v=4 7\n"
            .as_bytes();
        let want = serial(buf);
        assert_eq!(want.errors.len(), 3, "{:?}", want.errors);
        check_all_cuts(buf);
    }

    #[test]
    fn field_types_merge_as_one_parse_would() {
        // Typed across pieces; int in one piece and float in another (mixed); a first-row
        // duplicate of another type (retyped) after and before other pieces' values.
        for body in [
            "m a=1 1\nm a=2 2\nm a=3 3\n",
            "m a=1 1\nm a=2i 2\nm a=3 3\n",
            "m a=1 1\nm a=2i,a=3 2\nm a=4 3\n",
            "m a=1i,a=2 1\nm a=3 2\nm b=1 3\n",
            "m b=1 1\nm a=1i,a=2 2\nm a=3 3\n",
            "m a=\"s\" 1\nm b=1 2\nm a=\"t\",a=\"u\" 3\nm a=1 4\n",
            "m a=1 1\nm a=2i,a=3 x\nm a=4 3\n",
            "m a=1 1\nm a=t,a=3 2\nm a=4 3\n",
            "m a=1u 1\nm a=1 2\nm a=2u 3\nm a=\"s\",b=1 4\n",
        ] {
            check_all_cuts(body.as_bytes());
        }
        let out = cut(b"m a=1 1\nm a=2i 2\n", &[0]);
        assert_eq!(out.batch.field("a").unwrap().data.kind(), FieldKind::Mixed);
        let out = cut(b"m a=1i,a=2 1\nm a=3 2\n", &[0]);
        assert_eq!(out.batch.field("a").unwrap().data.kind(), FieldKind::Float);
        assert_eq!(
            out.batch.field("a").unwrap().get(0),
            Some(Value::Float(2.0))
        );
    }

    #[test]
    fn strings_holding_newlines_are_not_cut() {
        for body in [
            "m s=\"a\nb\" 1\nm s=\"c\" 2\n",
            "m s=\"a\nm v=1 2\nm v=2 3\n",
            "m s=\"x\\\n\" 1\nm v=1 2\n",
            "bad,=\"x\nm v=1 2\nm v=\"y\" 3\n",
            "m v=1 1\nbad x=\"open\nm v=2 2\nm v=3 3\n",
        ] {
            check_all_cuts(body.as_bytes());
        }
    }

    #[test]
    fn thread_counts_give_the_same_result() {
        let mut body = String::new();
        for i in 0..40_000 {
            let m = ["cpu", "mem", "disk", "net"][i % 4];
            body.push_str(&format!(
                "{m},host=h{},dc=d{} v={i},n={}i {i}\n",
                i % 97,
                i % 5,
                i
            ));
            if i % 1000 == 7 {
                body.push_str("broken line here\n");
            }
        }
        let buf = body.as_bytes();
        assert!(buf.len() > 2 * MIN_PIECE_BYTES);
        let want = serial(buf);
        assert_eq!(want.errors.len(), 40);
        for threads in [0, 1, 2, 3, 8] {
            let got = parse_threads(buf, Precision::Nanosecond, NOW, threads);
            assert_same(b"", &want, &got);
        }
    }

    /// A small deterministic generator: no dependency, reproducible failures.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
            xs[self.below(xs.len())]
        }
    }

    /// A body of random lines: several measurements, escaped names, tags in any order, every
    /// field type (the same field name with several), strings with newlines and quotes,
    /// comments, blank and CRLF lines, and bad lines of many kinds.
    fn random_body(rng: &mut Rng, lines: usize) -> Vec<u8> {
        let meas = ["cpu", "mem", "disk", "m\\ x", "m\\,y", "net", "é"];
        let tag_keys = ["host", "dc", "k\\=1", "zone"];
        let tag_vals = ["a", "b", "c\\ d", "e\\,f", "☃", "g"];
        let fields = ["v", "n", "s", "f\\ 1", "b", "u"];
        let values = [
            "1",
            "2.5",
            "-3e2",
            "4i",
            "-5i",
            "6u",
            "t",
            "false",
            "\"str\"",
            "\"a\nb\"",
            "\"q\\\"q\"",
            "\"\"",
            "\"x\\\\\"",
        ];
        let bad = [
            "bad",
            "m",
            "m v=",
            "m v=1x 1",
            "m,=x v=1",
            "m v=\"open",
            "m v=1 12a",
            "m v=1 1 2",
            "m,t=1,t=2 v=1",
            "m v=nan",
            "m v=99999999999999999999i",
            "=\"x",
            "m v=1\\",
            ",t=1 v=1",
            "m \"v\"=1",
            "m v=\"a\" junk",
        ];
        let mut out = String::new();
        for _ in 0..lines {
            match rng.below(20) {
                0 => out.push_str(rng.pick(&bad)),
                1 => out.push_str("# comment \"x"),
                2 => {}
                _ => {
                    out.push_str(rng.pick(&meas));
                    for _ in 0..rng.below(3) {
                        out.push(',');
                        out.push_str(rng.pick(&tag_keys));
                        out.push('=');
                        out.push_str(rng.pick(&tag_vals));
                    }
                    out.push(' ');
                    for f in 0..1 + rng.below(3) {
                        if f > 0 {
                            out.push(',');
                        }
                        out.push_str(rng.pick(&fields));
                        out.push('=');
                        out.push_str(rng.pick(&values));
                    }
                    if rng.below(4) > 0 {
                        out.push_str(&format!(" {}", rng.below(1_000_000)));
                    }
                }
            }
            out.push_str(if rng.below(10) == 0 { "\r\n" } else { "\n" });
        }
        if rng.below(2) == 0 {
            out.pop();
        }
        out.into_bytes()
    }

    #[test]
    fn seeded_random_bodies_parse_the_same_in_pieces() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for round in 0..300 {
            let lines = 1 + rng.below(30);
            let body = random_body(&mut rng, lines);
            let want = serial(&body);
            let ncuts = 1 + rng.below(4);
            let mut cuts: Vec<usize> = (0..ncuts).map(|_| rng.below(body.len() + 1)).collect();
            cuts.sort();
            let got = cut(&body, &cuts);
            assert_same(&body, &want, &got);
            if round % 30 == 0 {
                check_all_cuts(&body);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn any_cuts_give_the_serial_parse(seed in any::<u64>(), lines in 1usize..40,
                                          cuts in proptest::collection::vec(0usize..4000, 1..5)) {
            let mut rng = Rng(seed | 1);
            let body = random_body(&mut rng, lines);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (body.len() + 1)).collect();
            cuts.sort();
            let want = serial(&body);
            let got = cut(&body, &cuts);
            prop_assert_eq!(&want.errors, &got.errors);
            prop_assert_eq!(&want.batch, &got.batch);
        }

        #[test]
        fn any_bytes_cut_anywhere_give_the_serial_parse(body in proptest::collection::vec(
            prop_oneof![Just(b' '), Just(b','), Just(b'='), Just(b'"'), Just(b'\\'), Just(b'\n'),
                        Just(b'\n'), Just(b'\r'), Just(b'#'), Just(b'i'), Just(b'1'), Just(b't'),
                        Just(b'm'), Just(b'v'), any::<u8>()], 0..120),
            cut_at in 0usize..120) {
            let want = serial(&body);
            let got = cut(&body, &[cut_at]);
            prop_assert_eq!(&want.errors, &got.errors);
            prop_assert_eq!(&want.batch, &got.batch);
        }
    }
}
