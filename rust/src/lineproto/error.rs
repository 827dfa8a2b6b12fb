//! The fixed set of reasons a line can be rejected. Texts follow InfluxDB 1.x's parser where it
//! has one, so that a client sees the messages it already knows.

/// Why a line of line protocol was rejected. `Copy` and allocation-free on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    MissingMeasurement,
    MissingTagKey,
    MissingTagValue,
    InvalidTagFormat,
    DuplicateTags,
    MissingFields,
    MissingFieldKey,
    MissingFieldValue,
    InvalidFieldFormat,
    UnbalancedQuotes,
    InvalidNumber,
    InvalidFloat,
    IntegerOutOfRange,
    UnsignedOutOfRange,
    InvalidBoolean,
    BadTimestamp,
    TimeOutOfRange,
    InvalidPoint,
    InvalidEscape,
    /// A field key that is not UTF-8: InfluxDB 1.x cannot store it (its whole write fails with a
    /// 500, `field "tsdb.Field.Name" contains invalid UTF-8`); kapfast rejects the line.
    InvalidFieldKeyUtf8,
    KeyTooLong,
    BatchTooLarge,
}

impl ErrorKind {
    pub fn message(self) -> &'static str {
        match self {
            ErrorKind::MissingMeasurement => "missing measurement",
            ErrorKind::MissingTagKey => "missing tag key",
            ErrorKind::MissingTagValue => "missing tag value",
            ErrorKind::InvalidTagFormat => "invalid tag format",
            ErrorKind::DuplicateTags => "duplicate tags",
            ErrorKind::MissingFields => "missing fields",
            ErrorKind::MissingFieldKey => "missing field key",
            ErrorKind::MissingFieldValue => "missing field value",
            ErrorKind::InvalidFieldFormat => "invalid field format",
            ErrorKind::UnbalancedQuotes => "unbalanced quotes",
            ErrorKind::InvalidNumber => "invalid number",
            ErrorKind::InvalidFloat => "invalid float",
            ErrorKind::IntegerOutOfRange => "unable to parse integer: value out of range",
            ErrorKind::UnsignedOutOfRange => "unable to parse unsigned: value out of range",
            ErrorKind::InvalidBoolean => "invalid boolean",
            ErrorKind::BadTimestamp => "bad timestamp",
            ErrorKind::TimeOutOfRange => {
                "time outside range -9223372036854775806 - 9223372036854775806"
            }
            ErrorKind::InvalidPoint => "point is invalid: unexpected text after the timestamp",
            ErrorKind::InvalidEscape => "invalid escape: backslash at end of line",
            ErrorKind::InvalidFieldKeyUtf8 => "invalid field key: not valid UTF-8",
            ErrorKind::KeyTooLong => "max key length exceeded: > 65535",
            ErrorKind::BatchTooLarge => "body too large: string data over 4 GiB in one write",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// A rejected line: 1-based line and column (in characters) of the fault, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub column: usize,
    pub kind: ErrorKind,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.kind)
    }
}

/// Turns byte offsets (ascending) into 1-based line and character columns.
pub(crate) fn locate(buf: &[u8], faults: &[(usize, ErrorKind)]) -> Vec<LineError> {
    let mut out = Vec::with_capacity(faults.len());
    let (mut line, mut line_start, mut pos) = (1usize, 0usize, 0usize);
    for &(at, kind) in faults {
        let at = at.min(buf.len());
        if at < pos {
            // Offsets come in order; stay safe if one does not.
            (line, line_start, pos) = (1, 0, 0);
        }
        for (i, &b) in buf[pos..at].iter().enumerate() {
            if b == b'\n' {
                line += 1;
                line_start = pos + i + 1;
            }
        }
        pos = at;
        // Count characters, not bytes: UTF-8 continuation bytes do not start a character.
        let column = 1 + buf[line_start..at]
            .iter()
            .filter(|&&b| (b & 0xC0) != 0x80)
            .count();
        out.push(LineError { line, column, kind });
    }
    out
}
