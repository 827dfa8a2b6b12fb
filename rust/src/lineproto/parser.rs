//! The line-protocol parser: body bytes → [`PointBatch`] plus the rejected lines.
//!
//! One pass over the body, no heap allocation per line on the common path: series keys are
//! looked up by their raw bytes ([`SeriesTable`]), field keys are first compared with the key
//! that sat at the same position in the previous line, values are appended straight into typed
//! columns ([`FieldColumns`]). A bad line is rolled back and reported; the lines around it stay.

use super::assemble::{assemble, renumber};
use super::error::{locate, ErrorKind, LineError};
use super::escape::{decode_lossless, unescape_into, FIELD_KEY_SPECIALS, STRING_SPECIALS};
use super::hash::{bytes_eq, RawMap};
use super::key::{key_end, SeriesTable};
use super::number::{parse_bool, parse_number, parse_timestamp, Number, Precision};
use super::Fail;
use crate::batch::{FieldColumns, PartColumn, PointBatch};

/// What [`parse`] returns: the good points and, in body order, the rejected lines.
#[derive(Debug)]
pub struct ParseOutput {
    pub batch: PointBatch,
    pub errors: Vec<LineError>,
}

/// Parses a write body. Points without a timestamp get `now_ns` truncated to `precision`.
pub fn parse(buf: &[u8], precision: Precision, now_ns: i64) -> ParseOutput {
    output(parse_part(buf, precision, now_ns, estimate_rows(buf))).0
}

/// Like [`parse`], looking series up in (and adding new ones to) `keys`, which is handed back
/// with the result: a table kept across bodies makes a known series one hash probe.
pub(super) fn parse_with(
    buf: &[u8],
    precision: Precision,
    now_ns: i64,
    keys: SeriesTable,
) -> (ParseOutput, SeriesTable) {
    output(build_part(buf, precision, now_ns, keys, estimate_rows(buf)))
}

/// A parsed body made into its batch; the series table handed back.
fn output(mut part: Part) -> (ParseOutput, SeriesTable) {
    let fields = part.fields.into_iter().map(|c| c.column).collect();
    let keys = &mut part.keys;
    let batch = assemble(
        part.time,
        part.series,
        &part.order,
        &keys.info,
        fields,
        &mut keys.codes,
        &mut keys.dicts,
    );
    let out = ParseOutput {
        batch,
        errors: part.errors,
    };
    (out, part.keys)
}

/// A body (or a piece of one) parsed but not yet made into a batch.
pub(super) struct Part {
    pub time: Vec<i64>,
    /// Per row: index into `order`, in first-seen order.
    pub series: Vec<u32>,
    /// The series ids of `keys` that rows use, in first-seen order.
    pub order: Vec<u32>,
    pub keys: SeriesTable,
    pub fields: Vec<PartColumn>,
    /// Lines and columns counted from the start of `buf`.
    pub errors: Vec<LineError>,
    /// A quoted string ran into the end of `buf` unclosed: had `buf` gone on, the scan would
    /// have gone on into the next line, so `buf` cannot be parsed apart from what follows.
    pub ran_off: bool,
}

/// `buf` parsed apart, its columns and times given room for `rows` rows up front (the first
/// piece of a split body reserves for the whole body, so that the merge appends the other
/// pieces in place instead of moving it: see `split::parse_cut`).
pub(super) fn parse_part(buf: &[u8], precision: Precision, now_ns: i64, rows: usize) -> Part {
    build_part(buf, precision, now_ns, SeriesTable::new(), rows)
}

/// The one place the parser runs (so that its loop is compiled once, inlined here).
fn build_part(
    buf: &[u8],
    precision: Precision,
    now_ns: i64,
    keys: SeriesTable,
    rows: usize,
) -> Part {
    let mut p = Parser::new(buf, precision, now_ns, keys, rows);
    p.run();
    p.finish()
}

struct Parser<'a> {
    buf: &'a [u8],
    precision: Precision,
    default_time: i64,
    time: Vec<i64>,
    series: Vec<u32>,
    keys: SeriesTable,
    fields: FieldColumns,
    /// Raw (escaped) field key bytes → column; `field_raw[col]` is one raw spelling of it.
    field_index: RawMap,
    field_raw: Vec<Box<[u8]>>,
    /// Columns written by the current line, and by the previous one (the prediction).
    line_cols: Vec<u32>,
    predicted: Vec<u32>,
    scratch: Vec<u8>,
    str_bytes: usize,
    faults: Vec<(usize, ErrorKind)>,
    ran_off: bool,
}

#[inline]
fn at_eol(buf: &[u8], i: usize) -> bool {
    match buf.get(i) {
        None | Some(b'\n') => true,
        Some(b'\r') => matches!(buf.get(i + 1), None | Some(b'\n')),
        _ => false,
    }
}

/// The position after the line end at `i` (which [`at_eol`] accepted).
#[inline]
fn after_eol(buf: &[u8], i: usize) -> usize {
    match buf.get(i) {
        None => buf.len(),
        Some(b'\r') => (i + 2).min(buf.len()),
        _ => i + 1,
    }
}

#[inline]
fn skip_blank(buf: &[u8], mut i: usize) -> usize {
    while matches!(buf.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    i
}

/// Rows to reserve room for: the body's length over the length of its first lines, plus 10 %,
/// capped so that an odd first line cannot make the parser reserve far more than the body.
pub(super) fn estimate_rows(buf: &[u8]) -> usize {
    let sample = &buf[..buf.len().min(4096)];
    let lines = sample.iter().filter(|&&b| b == b'\n').count().max(1);
    let per_line = (sample.len() / lines).max(16);
    (buf.len() / per_line + buf.len() / per_line / 10 + 1).min(buf.len() / 16 + 1)
}

fn next_line(buf: &[u8], i: usize) -> usize {
    match buf[i..].iter().position(|&b| b == b'\n') {
        Some(j) => i + j + 1,
        None => buf.len(),
    }
}

impl<'a> Parser<'a> {
    fn new(
        buf: &'a [u8],
        precision: Precision,
        now_ns: i64,
        keys: SeriesTable,
        guess: usize,
    ) -> Self {
        let mut fields = FieldColumns::new();
        fields.reserve_rows(guess);
        Parser {
            buf,
            precision,
            default_time: precision.truncate(now_ns),
            time: Vec::with_capacity(guess),
            series: Vec::with_capacity(guess),
            keys,
            fields,
            field_index: RawMap::new(),
            field_raw: Vec::new(),
            line_cols: Vec::new(),
            predicted: Vec::new(),
            scratch: Vec::new(),
            str_bytes: 0,
            faults: Vec::new(),
            ran_off: false,
        }
    }

    fn run(&mut self) {
        let buf = self.buf;
        let mut pos = 0;
        while pos < buf.len() {
            match buf[pos] {
                b' ' | b'\t' | b'\n' => pos += 1,
                b'\r' if at_eol(buf, pos) => pos += 1,
                b'#' => pos = next_line(buf, pos),
                _ => match self.line(pos) {
                    Ok(end) => pos = end,
                    Err(f) => {
                        self.faults.push((f.at, f.kind));
                        pos = self.resync(f.resume);
                    }
                },
            }
        }
    }

    /// One point starting at `start` (not blank). Returns the position after its line end.
    #[inline]
    fn line(&mut self, start: usize) -> Result<usize, Fail> {
        let buf = self.buf;
        let row = self.time.len();
        let kend = key_end(buf, start);
        let sid = self.keys.lookup(buf, start, kend)?;
        let fstart = skip_blank(buf, kend);
        if kend >= buf.len() || buf[kend] != b' ' || at_eol(buf, fstart) {
            return Err(Fail::at(ErrorKind::MissingFields, fstart));
        }
        self.line_cols.clear();
        let result = self
            .fields_section(fstart, row)
            .and_then(|pos| self.timestamp(pos));
        match result {
            Ok((t, end)) => {
                self.time.push(t);
                self.series.push(sid);
                std::mem::swap(&mut self.line_cols, &mut self.predicted);
                Ok(end)
            }
            Err(f) => {
                for &c in &self.line_cols {
                    self.fields.rollback(c as usize, row);
                }
                Err(f)
            }
        }
    }

    /// `key=value[,key=value...]` at `pos`; returns the position after the last value.
    #[inline]
    fn fields_section(&mut self, mut pos: usize, row: usize) -> Result<usize, Fail> {
        let buf = self.buf;
        let mut idx = 0;
        loop {
            let (col, eq) = self.field_key(pos, idx)?;
            // Recorded before the value: a value can be stored and then fail its terminator.
            self.line_cols.push(col as u32);
            pos = self.field_value(col, row, eq + 1)?;
            idx += 1;
            match buf.get(pos) {
                Some(b',') => pos += 1,
                _ => return Ok(pos),
            }
        }
    }

    /// A field key at `start`; returns its column and the position of its `=`.
    #[inline]
    fn field_key(&mut self, start: usize, idx: usize) -> Result<(usize, usize), Fail> {
        let buf = self.buf;
        // Fast path: the key at this position in the previous line, followed by `=`. Scanning is
        // deterministic, so the same bytes before a `=` scan to the same key.
        if let Some(&p) = self.predicted.get(idx) {
            let raw = &*self.field_raw[p as usize];
            let eq = start + raw.len();
            if buf.get(eq) == Some(&b'=') && bytes_eq(&buf[start..eq], raw) {
                return Ok((p as usize, eq));
            }
        }
        let mut i = start;
        loop {
            match buf.get(i) {
                Some(b'=') => break,
                Some(b'\\') => {
                    if matches!(buf.get(i + 1), None | Some(b'\n')) {
                        return Err(Fail::at(ErrorKind::InvalidEscape, i));
                    }
                    i += 2;
                }
                None | Some(b'\n' | b' ' | b',') => {
                    return Err(Fail::at(ErrorKind::InvalidFieldFormat, i));
                }
                _ => i += 1,
            }
        }
        if i == start {
            return Err(Fail::at(ErrorKind::MissingFieldKey, i));
        }
        Ok((self.field_column(buf, start, i)?, i))
    }

    /// The column of the field key `buf[start..end]`. Once per distinct key and body: kept
    /// out of the per-field loop.
    #[inline(never)]
    fn field_column(&mut self, buf: &[u8], start: usize, end: usize) -> Result<usize, Fail> {
        let raw = &buf[start..end];
        if let Some(c) = self.field_index.get(raw) {
            return Ok(c as usize);
        }
        self.scratch.clear();
        unescape_into(raw, FIELD_KEY_SPECIALS, &mut self.scratch);
        // Unlike names and values (kept byte for byte, escape.rs), a field key must be UTF-8:
        // InfluxDB 1.x cannot store another one and fails the whole write; one line is enough.
        let Ok(name) = std::str::from_utf8(&self.scratch) else {
            return Err(Fail::at(ErrorKind::InvalidFieldKeyUtf8, start));
        };
        let col = self.fields.column(name, crate::batch::FieldKind::Float);
        if col == self.field_raw.len() {
            self.field_raw.push(raw.into());
        }
        self.field_index.insert(raw, col as u32);
        Ok(col)
    }

    /// The value at `pos` (just after `=`), appended to column `col`; returns the position after.
    #[inline]
    fn field_value(&mut self, col: usize, row: usize, pos: usize) -> Result<usize, Fail> {
        let buf = self.buf;
        let end = match buf.get(pos) {
            Some(b'0'..=b'9' | b'-' | b'.') => {
                let (n, end) = parse_number(buf, pos).map_err(|kind| Fail::at(kind, pos))?;
                match n {
                    Number::Float(v) => self.fields.push_float(col, row, v),
                    Number::Int(v) => self.fields.push_int(col, row, v),
                    Number::UInt(v) => self.fields.push_uint(col, row, v),
                }
                if !(matches!(buf.get(end), Some(b',' | b' ')) || at_eol(buf, end)) {
                    return Err(Fail::at(ErrorKind::InvalidNumber, pos));
                }
                end
            }
            Some(b'"') => self.string_value(col, row, pos)?,
            None | Some(b',' | b' ' | b'\n') => {
                return Err(Fail::at(ErrorKind::MissingFieldValue, pos));
            }
            Some(b'\r') if at_eol(buf, pos) => {
                return Err(Fail::at(ErrorKind::MissingFieldValue, pos));
            }
            Some(b'N' | b'n') => return Err(Fail::at(ErrorKind::InvalidNumber, pos)),
            Some(_) => {
                let mut end = pos;
                while !(matches!(buf.get(end), Some(b',' | b' ')) || at_eol(buf, end)) {
                    end += 1;
                }
                let v = parse_bool(&buf[pos..end]).map_err(|kind| Fail::at(kind, pos))?;
                self.fields.push_bool(col, row, v);
                end
            }
        };
        Ok(end)
    }

    /// A quoted string at `q`; returns the position after the closing quote.
    fn string_value(&mut self, col: usize, row: usize, q: usize) -> Result<usize, Fail> {
        let buf = self.buf;
        let mut i = q + 1;
        let mut escaped = false;
        let close = loop {
            match buf.get(i) {
                None => {
                    self.ran_off = true;
                    // Resume at the next line: better than InfluxDB, which loses the whole rest.
                    return Err(Fail {
                        kind: ErrorKind::UnbalancedQuotes,
                        at: q,
                        resume: next_line(buf, q).saturating_sub(1),
                    });
                }
                Some(b'"') => break i,
                Some(b'\\') => {
                    escaped = true;
                    i += 2;
                }
                _ => i += 1,
            }
        };
        let raw = &buf[q + 1..close];
        let text: &[u8] = if escaped {
            self.scratch.clear();
            unescape_into(raw, STRING_SPECIALS, &mut self.scratch);
            &self.scratch
        } else {
            raw
        };
        let fail = |kind| Fail {
            kind,
            at: q + 1,
            resume: close + 1,
        };
        let s = decode_lossless(text);
        self.str_bytes += s.len();
        if self.str_bytes > u32::MAX as usize {
            return Err(fail(ErrorKind::BatchTooLarge));
        }
        self.fields.push_str(col, row, &s);
        let end = close + 1;
        if !(matches!(buf.get(end), Some(b',' | b' ')) || at_eol(buf, end)) {
            return Err(Fail::at(ErrorKind::InvalidFieldFormat, end));
        }
        Ok(end)
    }

    /// The optional timestamp after the fields; returns the time and the start of the next line.
    #[inline]
    fn timestamp(&self, pos: usize) -> Result<(i64, usize), Fail> {
        let buf = self.buf;
        let ts = skip_blank(buf, pos);
        if at_eol(buf, ts) {
            return Ok((self.default_time, after_eol(buf, ts)));
        }
        if ts == pos {
            // Something other than a separator right after the last value.
            return Err(Fail::at(ErrorKind::InvalidFieldFormat, pos));
        }
        let (t, end) =
            parse_timestamp(buf, ts, self.precision).map_err(|kind| Fail::at(kind, ts))?;
        if at_eol(buf, end) {
            return Ok((t, after_eol(buf, end)));
        }
        let rest = skip_blank(buf, end);
        if rest == end {
            return Err(Fail::at(ErrorKind::BadTimestamp, ts));
        }
        if !at_eol(buf, rest) {
            return Err(Fail::at(ErrorKind::InvalidPoint, rest));
        }
        Ok((t, after_eol(buf, rest)))
    }

    /// After a bad line: the start of the next line. Skips quoted strings (which may hold
    /// newlines) when their closing quote exists.
    fn resync(&mut self, from: usize) -> usize {
        let buf = self.buf;
        let mut i = from;
        while i < buf.len() {
            match buf[i] {
                b'\n' => return i + 1,
                b'\\' if buf.get(i + 1).is_some_and(|&b| b != b'\n') => i += 2,
                b'"' if i > 0 && buf[i - 1] == b'=' => {
                    i = match closing_quote(buf, i + 1) {
                        Some(c) => c + 1,
                        None => {
                            self.ran_off = true;
                            i + 1
                        }
                    }
                }
                _ => i += 1,
            }
        }
        buf.len()
    }

    fn finish(mut self) -> Part {
        let errors = locate(self.buf, &self.faults);
        let order = renumber(&mut self.series, self.keys.info.len(), &mut self.keys.remap);
        let rows = self.time.len();
        Part {
            time: self.time,
            series: self.series,
            order,
            keys: self.keys,
            fields: self.fields.finish_part(rows),
            errors,
            ran_off: self.ran_off,
        }
    }
}

fn closing_quote(buf: &[u8], mut i: usize) -> Option<usize> {
    while i < buf.len() {
        match buf[i] {
            b'"' => return Some(i),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    None
}
