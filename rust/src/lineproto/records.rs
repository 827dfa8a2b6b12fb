//! Stream recordings (`.srpl`) frame line protocol as records of three lines: the database, the
//! retention policy, one point. Both directions work on a whole block in one pass (`memchr`),
//! so neither a live recording nor a replay does any per-line work in Python:
//!
//! * [`make_records`]: a write body, one point per line, → its records (what a live recording
//!   appends), checked to be exactly the batch's lines;
//! * [`split_records`]: the whole records at the start of a block → runs of consecutive records
//!   that share a database and retention policy, each run's point lines as one body (what a
//!   replay parses), or `None` when the block needs the careful, line-by-line reader (a CR, a
//!   blank database or point line) that also gives the exact errors.

use std::ops::Range;

use memchr::{memchr, memchr_iter};

/// Where framed records go: a `Vec`, or a gzip member being laid out ([`StoredMember`]).
trait Sink {
    /// Appends `part`; false when it does not fit (the caller then gives up).
    fn put(&mut self, part: &[u8]) -> bool;

    /// Appends a record's two pieces (its prefix, then its line): one call a record, so that a
    /// sink checks its room once for both.
    fn put2(&mut self, a: &[u8], b: &[u8]) -> bool {
        self.put(a) && self.put(b)
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, part: &[u8]) -> bool {
        self.extend_from_slice(part);
        true
    }
}

/// `body`'s lines, each made a record `db\nrp\nline\n`, into `out`; false unless `body` holds
/// exactly `count` lines (the last may lack its newline) and no CR (what `out` got is then to be
/// thrown away).
fn frame(db: &[u8], rp: &[u8], body: &[u8], count: usize, out: &mut impl Sink) -> bool {
    let lines_of = body.strip_suffix(b"\n").unwrap_or(body);
    if lines_of.is_empty() {
        return count == 0;
    }
    // a CR anywhere refuses the body: one SIMD pass for it, so that the line loop looks for one
    // byte, not two (a CR is rare: the loop would otherwise stop at every newline to tell them apart)
    if memchr(b'\r', lines_of).is_some() {
        return false;
    }
    // two pieces a record (its prefix, then its line with the line's own newline): a few large
    // copies rather than many tiny ones
    let prefix = [db, b"\n", rp, b"\n"].concat();
    let mut start = 0;
    let mut lines = 0;
    for at in memchr_iter(b'\n', lines_of) {
        lines += 1;
        if lines >= count || !out.put2(&prefix, &lines_of[start..=at]) {
            return false; // more lines than points (this one and the last still to come)
        }
        start = at + 1;
    }
    if lines + 1 != count || !out.put(&prefix) {
        return false;
    }
    if lines_of.len() < body.len() {
        out.put(&body[start..]) // the last line with the body's final newline
    } else {
        out.put(&body[start..]) && out.put(b"\n")
    }
}

/// The size of what [`frame`] makes of a body it takes: each of the `count` lines gets the
/// prefix `db\nrp\n` and keeps (or gets) its newline.
fn framed_len(db: &[u8], rp: &[u8], body: &[u8], count: usize) -> usize {
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    if body.is_empty() {
        return 0;
    }
    count.saturating_mul(db.len() + rp.len() + 2) + body.len() + 1
}

/// `body`'s lines, each made a record `db\nrp\nline\n`; `None` unless `body` holds exactly
/// `count` lines (the last may lack its newline) and no CR. `count` is the number of points the
/// body parsed into: as many lines as points means no blank, comment or bad line and no newline
/// inside a string, so each line is one point exactly as it came.
pub fn make_records(db: &[u8], rp: &[u8], body: &[u8], count: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(framed_len(db, rp, body, count));
    frame(db, rp, body, count, &mut out).then_some(out)
}

/// A gzip member's header as kapfast's writers make it: deflate, no flags, mtime 0, no extra
/// flags, OS unknown (the same content gives the same bytes).
const MEMBER_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
/// The most a stored deflate block holds.
const STORED_MAX: usize = 0xFFFF;

/// The size of a gzip member of stored deflate blocks holding `n` bytes (at least one block).
pub fn stored_member_len(n: usize) -> usize {
    MEMBER_HEADER.len() + 5 * n.div_ceil(STORED_MAX).max(1) + n + 8
}

/// Lays out `n` content bytes, put in pieces, as one gzip member of stored deflate blocks
/// appended to a `Vec` (append only: no byte is zeroed first, and a reused `Vec` costs no page
/// faults): block headers between the pieces where a block ends, the CRC-32 taken over each whole
/// block's content at once (a fast, SIMD CRC wants long runs, not the short pieces a record is
/// made of).
struct StoredMember<'a> {
    out: &'a mut Vec<u8>,
    /// content bytes not yet put, and room left in the current block
    left: usize,
    in_block: usize,
    block_start: usize,
    crc: crc32fast::Hasher,
}

impl<'a> StoredMember<'a> {
    fn new(out: &'a mut Vec<u8>, n: usize) -> Self {
        out.reserve(stored_member_len(n));
        out.extend_from_slice(&MEMBER_HEADER);
        let mut me = StoredMember {
            out,
            left: n,
            in_block: 0,
            block_start: 0,
            crc: crc32fast::Hasher::new(),
        };
        if n == 0 {
            me.open_block(); // an empty member still has its one (empty, final) block
        }
        me
    }

    fn open_block(&mut self) {
        let size = self.left.min(STORED_MAX);
        let last = u8::from(self.left <= STORED_MAX);
        let [lo, hi] = (size as u16).to_le_bytes();
        self.out.extend_from_slice(&[last, lo, hi, !lo, !hi]);
        self.in_block = size;
        self.block_start = self.out.len();
    }

    fn close_block(&mut self) {
        self.crc.update(&self.out[self.block_start..]);
    }

    /// The trailer (CRC-32 and size); true when every one of the `n` bytes was put.
    fn finish(self, n: usize) -> bool {
        if self.left != 0 {
            return false;
        }
        // every block was closed as it filled (an empty member's one block holds nothing)
        let crc = self.crc.finalize();
        self.out.extend_from_slice(&crc.to_le_bytes());
        self.out.extend_from_slice(&(n as u32).to_le_bytes());
        true
    }
}

impl Sink for StoredMember<'_> {
    fn put2(&mut self, a: &[u8], b: &[u8]) -> bool {
        let n = a.len() + b.len();
        if n >= self.in_block || n > self.left {
            return self.put(a) && self.put(b); // a block ends within: the careful way
        }
        // the usual case: both pieces within the open block, which they do not fill
        self.out.extend_from_slice(a);
        self.out.extend_from_slice(b);
        self.in_block -= n;
        self.left -= n;
        true
    }

    fn put(&mut self, mut part: &[u8]) -> bool {
        if part.len() > self.left {
            return false;
        }
        if part.len() < self.in_block {
            // the usual case: within the open block, which it does not fill
            self.out.extend_from_slice(part);
            self.in_block -= part.len();
            self.left -= part.len();
            return true;
        }
        while !part.is_empty() {
            if self.in_block == 0 {
                self.open_block();
            }
            let k = part.len().min(self.in_block);
            self.out.extend_from_slice(&part[..k]);
            self.in_block -= k;
            self.left -= k;
            part = &part[k..];
            if self.in_block == 0 {
                self.close_block();
            }
        }
        true
    }
}

/// The size [`records_member`] appends for these arguments.
pub fn records_member_len(db: &[u8], rp: &[u8], body: &[u8], count: usize) -> usize {
    stored_member_len(framed_len(db, rp, body, count))
}

/// What [`make_records`] makes of `body`, appended to `out` as one gzip member of stored
/// (uncompressed) deflate blocks, in the same single pass (a live recording's block: a copy and
/// a CRC, no record buffer in between); false, and `out` as it was, when [`make_records`] would
/// give `None`.
pub fn records_member(db: &[u8], rp: &[u8], body: &[u8], count: usize, out: &mut Vec<u8>) -> bool {
    let n = framed_len(db, rp, body, count);
    let was = out.len();
    let mut member = StoredMember::new(out, n);
    if frame(db, rp, body, count, &mut member) && member.finish(n) {
        return true;
    }
    out.truncate(was);
    false
}

/// Whether [`make_records`] takes `body` for `count` points (exactly `count` lines, the last
/// may lack its newline, and no CR), without making anything: two SIMD passes.
pub fn one_point_a_line(body: &[u8], count: usize) -> bool {
    let lines_of = body.strip_suffix(b"\n").unwrap_or(body);
    if lines_of.is_empty() {
        return count == 0;
    }
    memchr(b'\r', lines_of).is_none() && memchr_iter(b'\n', lines_of).count() + 1 == count
}

/// Consecutive records with one database and retention policy (byte ranges in the block), and
/// where their point lines are in the block (each range with the line's `\n`), `len` bytes in all.
#[derive(Debug, PartialEq, Eq)]
pub struct Run {
    pub db: Range<usize>,
    pub rp: Range<usize>,
    pub lines: Vec<Range<usize>>,
    pub len: usize,
    pub count: usize,
}

impl Run {
    /// The point lines, one after the other, into `out` (of `len` bytes): one copy of each.
    pub fn body_into(&self, block: &[u8], out: &mut [u8]) {
        let mut at = 0;
        for line in &self.lines {
            out[at..at + line.len()].copy_from_slice(&block[line.clone()]);
            at += line.len();
        }
    }

    /// The point lines as one body.
    pub fn body(&self, block: &[u8]) -> Vec<u8> {
        let mut out = vec![0; self.len];
        self.body_into(block, &mut out);
        out
    }
}

/// What [`split_records`] found: the runs, and how many bytes of the block they took (whole
/// records; what follows starts a record the next block completes).
#[derive(Debug, PartialEq, Eq)]
pub struct Split {
    pub runs: Vec<Run>,
    pub consumed: usize,
}

/// Whitespace as Python's `bytes.strip()` sees it (which the careful reader uses).
fn blank(line: &[u8]) -> bool {
    line.iter()
        .all(|&b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c'))
}

/// The whole records at the start of `block` (which starts a record), as runs; `None` when any
/// of them has a CR or a blank database or point line (the careful reader's cases).
pub fn split_records(block: &[u8]) -> Option<Split> {
    let mut runs: Vec<Run> = Vec::new();
    let mut pos = 0;
    let next = |from: usize| memchr(b'\n', &block[from..]).map(|i| from + i);
    while let Some(e1) = next(pos) {
        let Some(e2) = next(e1 + 1) else { break };
        let Some(e3) = next(e2 + 1) else { break };
        let (db, rp, point) = (pos..e1, e1 + 1..e2, e2 + 1..e3 + 1);
        if blank(&block[db.clone()]) || blank(&block[point.start..e3]) {
            return None;
        }
        match runs.last_mut() {
            Some(run)
                if block[run.db.clone()] == block[db.clone()]
                    && block[run.rp.clone()] == block[rp.clone()] =>
            {
                run.len += point.len();
                run.lines.push(point);
                run.count += 1;
            }
            _ => runs.push(Run {
                db,
                rp,
                len: point.len(),
                lines: vec![point],
                count: 1,
            }),
        }
        pos = e3 + 1;
    }
    if memchr(b'\r', &block[..pos]).is_some() {
        return None;
    }
    Some(Split {
        runs,
        consumed: pos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_of_a_body() {
        let got = make_records(b"db", b"rp", b"m v=1 1\nm v=2 2\n", 2).unwrap();
        assert_eq!(got, b"db\nrp\nm v=1 1\ndb\nrp\nm v=2 2\n");
        // the last line may lack its newline
        assert_eq!(
            make_records(b"db", b"rp", b"m v=1 1\nm v=2 2", 2).unwrap(),
            got
        );
        assert_eq!(make_records(b"db", b"rp", b"", 0).unwrap(), b"");
        assert_eq!(make_records(b"db", b"rp", b"\n", 0).unwrap(), b"");
    }

    #[test]
    fn records_refuse_what_is_not_one_point_a_line() {
        // a blank line, a CR, fewer or more lines than points
        assert_eq!(make_records(b"d", b"r", b"m v=1 1\n\nm v=2 2\n", 2), None);
        assert_eq!(make_records(b"d", b"r", b"m v=1 1\r\nm v=2 2\n", 2), None);
        assert_eq!(make_records(b"d", b"r", b"m v=1 1\n", 2), None);
        assert_eq!(make_records(b"d", b"r", b"m v=1 1\nm v=2 2\n", 1), None);
        assert_eq!(make_records(b"d", b"r", b"m v=1 1\n", 0), None);
        assert_eq!(make_records(b"d", b"r", b"", 1), None);
    }

    fn member(db: &[u8], rp: &[u8], body: &[u8], count: usize) -> Option<Vec<u8>> {
        // appended after what the buffer held, which stays as it was
        let mut out = b"before".to_vec();
        let ok = records_member(db, rp, body, count, &mut out);
        assert_eq!(&out[..6], b"before");
        assert_eq!(one_point_a_line(body, count), ok);
        if !ok {
            assert_eq!(out, b"before");
            return None;
        }
        assert_eq!(out.len() - 6, records_member_len(db, rp, body, count));
        Some(out.split_off(6))
    }

    /// Inflates a gzip member of stored blocks by hand (no inflater among the dependencies):
    /// checks every block header, the CRC and the size.
    fn unstore(member: &[u8]) -> Vec<u8> {
        assert_eq!(&member[..10], &MEMBER_HEADER);
        let mut pos = 10;
        let mut out = Vec::new();
        loop {
            let h = &member[pos..pos + 5];
            let size = u16::from_le_bytes([h[1], h[2]]);
            assert_eq!(!size, u16::from_le_bytes([h[3], h[4]]));
            out.extend_from_slice(&member[pos + 5..pos + 5 + size as usize]);
            pos += 5 + size as usize;
            if h[0] == 1 {
                break;
            }
            assert_eq!(h[0], 0);
        }
        let tail = &member[pos..];
        assert_eq!(tail.len(), 8);
        assert_eq!(tail[..4], crc32fast::hash(&out).to_le_bytes());
        assert_eq!(tail[4..], (out.len() as u32).to_le_bytes());
        out
    }

    #[test]
    fn a_member_holds_the_records() {
        let body: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("cpu,host=h{i} v={i} {i}\n").into_bytes())
            .collect();
        for (b, count) in [
            (&b"m v=1 1\nm v=2 2"[..], 2),
            (&b"m v=1 1\n"[..], 1),
            (&body[..], 20_000),
        ] {
            let got = member(b"db", b"autogen", b, count).unwrap();
            assert_eq!(
                unstore(&got),
                make_records(b"db", b"autogen", b, count).unwrap()
            );
        }
        // blocks exactly full, one byte over
        for n in [STORED_MAX - 1, STORED_MAX, STORED_MAX + 1, 2 * STORED_MAX] {
            let line = vec![b'x'; n - 5]; // "d\nr\n" + line + "\n"
            let got = member(b"d", b"r", &line, 1).unwrap();
            assert_eq!(got.len(), stored_member_len(n));
            assert_eq!(unstore(&got).len(), n);
        }
        assert_eq!(unstore(&member(b"d", b"r", b"", 0).unwrap()), b"");
    }

    #[test]
    fn a_member_refuses_what_records_refuse() {
        for (b, count) in [
            (&b"m v=1 1\n\nm v=2 2\n"[..], 2),
            (b"m v=1 1\r\nm v=2 2\n", 2),
            (b"m v=1 1\n", 2),
            (b"m v=1 1\nm v=2 2\n", 1),
            (b"m v=1 1\n", 0),
            (b"", 1),
        ] {
            assert_eq!(member(b"d", b"r", b, count), None);
        }
    }

    #[test]
    fn split_into_runs() {
        let block = b"a\nr\nm v=1 1\na\nr\nm v=2 2\nb\nr\nm v=3 3\nb\nr";
        let got = split_records(block).unwrap();
        assert_eq!(got.consumed, block.len() - 3); // "b\nr" waits for its point line
        assert_eq!(got.runs.len(), 2);
        assert_eq!(&block[got.runs[0].db.clone()], b"a");
        assert_eq!(got.runs[0].body(block), b"m v=1 1\nm v=2 2\n");
        assert_eq!(got.runs[0].count, 2);
        assert_eq!(&block[got.runs[1].db.clone()], b"b");
        assert_eq!(&block[got.runs[1].rp.clone()], b"r");
        assert_eq!(got.runs[1].body(block), b"m v=3 3\n");
        // another retention policy starts a run too
        let got = split_records(b"a\nr\nm v=1 1\na\ns\nm v=2 2\n").unwrap();
        assert_eq!(got.runs.len(), 2);
        // no whole record yet
        let got = split_records(b"a\nr\nm v=1").unwrap();
        assert_eq!((got.runs.len(), got.consumed), (0, 0));
    }

    #[test]
    fn split_leaves_the_unusual_to_the_careful_reader() {
        assert_eq!(split_records(b"a\nr\nm v=1 1\r\n"), None);
        assert_eq!(split_records(b" \nr\nm v=1 1\n"), None);
        assert_eq!(split_records(b"a\nr\n \t\n"), None);
        // a CR in the unfinished record is the next block's business
        assert!(split_records(b"a\nr\nm v=1 1\na\r\n").is_some());
        // an empty retention policy and a point line starting with a blank are fine
        let block = b"a\n\n m v=1 1\n";
        let got = split_records(block).unwrap();
        assert_eq!(got.runs[0].body(block), b" m v=1 1\n");
    }
}
