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

use memchr::{memchr, memchr2_iter};

/// `body`'s lines, each made a record `db\nrp\nline\n`; `None` unless `body` holds exactly
/// `count` lines (the last may lack its newline) and no CR. `count` is the number of points the
/// body parsed into: as many lines as points means no blank, comment or bad line and no newline
/// inside a string, so each line is one point exactly as it came.
pub fn make_records(db: &[u8], rp: &[u8], body: &[u8], count: usize) -> Option<Vec<u8>> {
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    if body.is_empty() {
        return (count == 0).then(Vec::new);
    }
    let prefix = db.len() + rp.len() + 2;
    let mut out = Vec::with_capacity(body.len() + 1 + count.saturating_mul(prefix));
    let mut start = 0;
    let mut lines = 0;
    let push = |out: &mut Vec<u8>, line: &[u8]| {
        for part in [db, rp, line] {
            out.extend_from_slice(part);
            out.push(b'\n');
        }
    };
    for at in memchr2_iter(b'\n', b'\r', body) {
        if body[at] == b'\r' {
            return None;
        }
        lines += 1;
        if lines >= count {
            return None; // more lines than points (this one and the last still to come)
        }
        push(&mut out, &body[start..at]);
        start = at + 1;
    }
    if lines + 1 != count {
        return None;
    }
    push(&mut out, &body[start..]);
    Some(out)
}

/// Consecutive records with one database and retention policy (byte ranges in the block), and
/// their point lines, each `\n`-terminated.
#[derive(Debug, PartialEq, Eq)]
pub struct Run {
    pub db: Range<usize>,
    pub rp: Range<usize>,
    pub body: Vec<u8>,
    pub count: usize,
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
                run.body.extend_from_slice(&block[point]);
                run.count += 1;
            }
            _ => {
                // The first run usually takes the whole block: size it once.
                let cap = if runs.is_empty() {
                    block.len() - pos
                } else {
                    0
                };
                let mut body = Vec::with_capacity(cap);
                body.extend_from_slice(&block[point]);
                runs.push(Run {
                    db,
                    rp,
                    body,
                    count: 1,
                });
            }
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

    #[test]
    fn split_into_runs() {
        let block = b"a\nr\nm v=1 1\na\nr\nm v=2 2\nb\nr\nm v=3 3\nb\nr";
        let got = split_records(block).unwrap();
        assert_eq!(got.consumed, block.len() - 3); // "b\nr" waits for its point line
        assert_eq!(got.runs.len(), 2);
        assert_eq!(&block[got.runs[0].db.clone()], b"a");
        assert_eq!(got.runs[0].body, b"m v=1 1\nm v=2 2\n");
        assert_eq!(got.runs[0].count, 2);
        assert_eq!(&block[got.runs[1].db.clone()], b"b");
        assert_eq!(&block[got.runs[1].rp.clone()], b"r");
        assert_eq!(got.runs[1].body, b"m v=3 3\n");
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
        let got = split_records(b"a\n\n m v=1 1\n").unwrap();
        assert_eq!(got.runs[0].body, b" m v=1 1\n");
    }
}
