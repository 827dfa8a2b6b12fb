//! Kapacitor's UDF wire protocol: requests built from columnar batches, responses parsed back
//! into batches. Each message is a protobuf `agent.Request`/`agent.Response` after its length as
//! a varint (spec/udf.md). Nothing here knows about Python; `py/udf.rs` binds it.
//!
//! The hot path is one message per point, as the protocol requires, written straight from the
//! batch's columns into one buffer (a chunk of points is one write to the agent); response points
//! are appended to a [`BatchBuilder`], so no per-point object reaches the engine.

pub mod proto;
pub mod wire;

use std::collections::HashMap;

use prost::Message;

use crate::batch::{BatchBuilder, PointBatch, Value};
use proto::{request, response, Request, Response};
use wire::{read_point, write_point, PointHead, PointRef};

/// Frames larger than this are taken for garbage rather than allocated.
pub const MAX_FRAME: usize = 256 << 20;

/// The group of stream rows as the engine keeps it: Kapacitor's id, dimensions, by measurement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupKey {
    pub id: String,
    pub dims: Vec<String>,
    pub by_name: bool,
}

fn push(out: &mut Vec<u8>, msg: request::Message) {
    Request { message: Some(msg) }
        .encode_length_delimited(out)
        .expect("a Vec grows as needed");
}

/// Appends one framed request.
pub fn encode_request(out: &mut Vec<u8>, msg: request::Message) {
    push(out, msg);
}

/// One `Point` request per row of a stream chunk; `codes[i]` indexes `groups`.
pub fn encode_stream(
    out: &mut Vec<u8>,
    b: &PointBatch,
    codes: &[u32],
    groups: &[GroupKey],
    db: &str,
    rp: &str,
) {
    let none = GroupKey {
        id: String::new(),
        dims: Vec::new(),
        by_name: false,
    };
    let mut scratch = Vec::with_capacity(256);
    for i in 0..b.len() {
        let g = codes
            .get(i)
            .and_then(|&c| groups.get(c as usize))
            .unwrap_or(&none);
        let head = PointHead {
            name: b.measurement.get(i).unwrap_or(""),
            database: db,
            retention_policy: rp,
            group: &g.id,
            dimensions: &g.dims,
            by_name: g.by_name,
        };
        write_point(out, &mut scratch, &head, b, i);
    }
}

/// A batch as Kapacitor sends it: `BeginBatch`, one `Point` per row (time, group, tags and
/// fields only), `EndBatch`.
pub fn encode_batch(
    out: &mut Vec<u8>,
    name: &str,
    group: &str,
    tags: &HashMap<String, String>,
    by_name: bool,
    tmax: i64,
    b: &PointBatch,
) {
    push(
        out,
        request::Message::Begin(proto::BeginBatch {
            name: name.to_owned(),
            group: group.to_owned(),
            tags: tags.clone(),
            size: b.len() as i64,
            by_name,
        }),
    );
    let head = PointHead {
        name: "",
        database: "",
        retention_policy: "",
        group,
        dimensions: &[],
        by_name: false,
    };
    let mut scratch = Vec::with_capacity(256);
    for i in 0..b.len() {
        write_point(out, &mut scratch, &head, b, i);
    }
    push(
        out,
        request::Message::End(proto::EndBatch {
            name: name.to_owned(),
            group: group.to_owned(),
            tmax,
            tags: tags.clone(),
            by_name,
        }),
    );
}

/// An output group as the agent gave it: (measurement when by name, sorted dimensions with
/// their tag values, by measurement).
pub type OutGroup = (String, Vec<(String, String)>, bool);

/// Stream points an agent sent back to back (one database and retention policy).
#[derive(Debug, Default)]
pub struct PointRun {
    pub batch: PointBatch,
    /// per row: index into `groups`
    pub codes: Vec<u32>,
    /// per group, see [`OutGroup`]
    pub groups: Vec<OutGroup>,
    pub db: String,
    pub rp: String,
}

/// A batch an agent sent: its points between `BeginBatch` and `EndBatch`.
#[derive(Debug)]
pub struct BatchOut {
    pub name: String,
    pub tmax: i64,
    /// the end message's tags, sorted: the group's dimensions
    pub tags: Vec<(String, String)>,
    pub by_name: bool,
    pub points: PointBatch,
}

/// What a read of the agent's output yields, in order.
#[derive(Debug)]
pub enum Event {
    Points(PointRun),
    Batch(BatchOut),
    Info(proto::InfoResponse),
    Init {
        success: bool,
        error: String,
    },
    Keepalive(i64),
    Snapshot(Vec<u8>),
    Restore {
        success: bool,
        error: String,
    },
    Error(String),
    /// points that cannot be a row (no field, an empty name); counted, never fatal
    Skipped {
        count: usize,
        reason: String,
    },
}

/// A malformed frame: the agent's output cannot be read any further.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Default)]
struct StreamRun {
    builder: BatchBuilder,
    codes: Vec<u32>,
    groups: Vec<OutGroup>,
    index: HashMap<OutGroup, u32>,
    db: String,
    rp: String,
}

struct OpenBatch {
    name: String,
    by_name: bool,
    builder: BatchBuilder,
}

/// Reads framed responses from the bytes an agent wrote, across reads.
#[derive(Default)]
pub struct Decoder {
    buf: Vec<u8>,
    run: Option<StreamRun>,
    open: Option<OpenBatch>,
    skipped: usize,
    skip_reason: String,
}

/// `(value, bytes used)` of the varint at the start of `b`; None when incomplete.
fn varint(b: &[u8]) -> Result<Option<(u64, usize)>, DecodeError> {
    let mut v: u64 = 0;
    for (i, &byte) in b.iter().enumerate() {
        if i >= 10 {
            return Err(DecodeError(
                "invalid message length: varint too long".into(),
            ));
        }
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some((v, i + 1)));
        }
    }
    if b.len() >= 10 {
        return Err(DecodeError(
            "invalid message length: varint too long".into(),
        ));
    }
    Ok(None)
}

fn fields_of(p: &proto::Point) -> Vec<(&str, Value)> {
    let mut f: Vec<(&str, Value)> = Vec::with_capacity(
        p.fields_double.len() + p.fields_int.len() + p.fields_string.len() + p.fields_bool.len(),
    );
    f.extend(
        p.fields_double
            .iter()
            .map(|(k, v)| (k.as_str(), Value::Float(*v))),
    );
    f.extend(
        p.fields_int
            .iter()
            .map(|(k, v)| (k.as_str(), Value::Int(*v))),
    );
    f.extend(
        p.fields_string
            .iter()
            .map(|(k, v)| (k.as_str(), Value::Str(v.clone()))),
    );
    f.extend(
        p.fields_bool
            .iter()
            .map(|(k, v)| (k.as_str(), Value::Bool(*v))),
    );
    // a map's order is the agent's; columns are named, but keep duplicates deterministic
    f.sort_by(|a, b| a.0.cmp(b.0));
    f
}

fn sorted_tags(m: &HashMap<String, String>) -> Vec<(String, String)> {
    let mut t: Vec<(String, String)> = m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    t.sort();
    t
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes held of an incomplete frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Whether the agent is between a `BeginBatch` and its `EndBatch`.
    pub fn in_batch(&self) -> bool {
        self.open.is_some()
    }

    /// Every complete response in `data` (after what earlier calls kept), as events in order.
    pub fn feed(&mut self, data: &[u8]) -> Result<Vec<Event>, DecodeError> {
        // the bytes are taken out of `self` while frames borrow them
        let mut buf = std::mem::take(&mut self.buf);
        buf.extend_from_slice(data);
        let mut events = Vec::new();
        let mut pos = 0;
        let result = loop {
            let Some((len, used)) = (match varint(&buf[pos..]) {
                Ok(x) => x,
                Err(e) => break Err(e),
            }) else {
                break Ok(());
            };
            let len = len as usize;
            if len > MAX_FRAME {
                break Err(DecodeError(format!(
                    "invalid message length {len}: larger than {MAX_FRAME} bytes"
                )));
            }
            if buf.len() - pos - used < len {
                break Ok(());
            }
            let frame = &buf[pos + used..pos + used + len];
            let done = match read_point(frame) {
                Ok(Some(p)) => {
                    self.point(p, &mut events);
                    Ok(())
                }
                Ok(None) => match Response::decode(frame) {
                    Ok(resp) => self.handle(resp, &mut events),
                    Err(e) => Err(DecodeError(format!("failed to decode response: {e}"))),
                },
                Err(e) => Err(e),
            };
            pos += used + len;
            if let Err(e) = done {
                break Err(e);
            }
        };
        buf.drain(..pos);
        self.buf = buf;
        self.flush_run(&mut events);
        result?;
        Ok(events)
    }

    fn flush_run(&mut self, events: &mut Vec<Event>) {
        if self.skipped > 0 {
            events.push(Event::Skipped {
                count: self.skipped,
                reason: std::mem::take(&mut self.skip_reason),
            });
            self.skipped = 0;
        }
        if let Some(run) = self.run.take() {
            if !run.codes.is_empty() {
                events.push(Event::Points(PointRun {
                    batch: run.builder.finish(),
                    codes: run.codes,
                    groups: run.groups,
                    db: run.db,
                    rp: run.rp,
                }));
            }
        }
    }

    fn skip(&mut self, reason: String) {
        if self.skipped == 0 {
            self.skip_reason = reason;
        }
        self.skipped += 1;
    }

    fn handle(&mut self, resp: Response, events: &mut Vec<Event>) -> Result<(), DecodeError> {
        let Some(msg) = resp.message else {
            return Err(DecodeError("response without a message".into()));
        };
        if !matches!(msg, response::Message::Point(_)) {
            // control messages and batch ends are events of their own, after the points before
            self.flush_run(events);
        }
        match msg {
            response::Message::Point(p) => {
                let fields = fields_of(&p);
                let point = PointRef {
                    time: p.time,
                    name: &p.name,
                    database: &p.database,
                    retention_policy: &p.retention_policy,
                    dimensions: p.dimensions.iter().map(String::as_str).collect(),
                    tags: p
                        .tags
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect(),
                    fields,
                    by_name: p.by_name,
                };
                self.point(point, events);
            }
            response::Message::Begin(b) => {
                self.open = Some(OpenBatch {
                    name: b.name,
                    by_name: b.by_name,
                    builder: BatchBuilder::new(),
                });
            }
            response::Message::End(e) => {
                let Some(open) = self.open.take() else {
                    return Err(DecodeError("received EndBatch without a BeginBatch".into()));
                };
                events.push(Event::Batch(BatchOut {
                    name: e.name,
                    tmax: e.tmax,
                    tags: sorted_tags(&e.tags),
                    by_name: open.by_name,
                    points: open.builder.finish(),
                }));
            }
            response::Message::Info(i) => events.push(Event::Info(i)),
            response::Message::Init(i) => events.push(Event::Init {
                success: i.success,
                error: i.error,
            }),
            response::Message::Keepalive(k) => events.push(Event::Keepalive(k.time)),
            response::Message::Snapshot(s) => events.push(Event::Snapshot(s.snapshot)),
            response::Message::Restore(r) => events.push(Event::Restore {
                success: r.success,
                error: r.error,
            }),
            response::Message::Error(e) => events.push(Event::Error(e.error)),
        }
        Ok(())
    }

    fn point(&mut self, p: PointRef<'_>, events: &mut Vec<Event>) {
        if let Some(open) = self.open.as_mut() {
            // a batch's points carry no name: they are the batch's measurement
            let name = if p.name.is_empty() {
                open.name.as_str()
            } else {
                p.name
            };
            if let Err(e) = open.builder.push_row(name, &p.tags, &p.fields, p.time) {
                let reason = format!("point of batch {name:?} dropped: {e}");
                self.skip(reason);
            }
            return;
        }
        if self
            .run
            .as_ref()
            .is_some_and(|r| r.db != p.database || r.rp != p.retention_policy)
        {
            self.flush_run(events);
        }
        let run = self.run.get_or_insert_with(|| StreamRun {
            db: p.database.to_owned(),
            rp: p.retention_policy.to_owned(),
            ..Default::default()
        });
        if let Err(e) = run.builder.push_row(p.name, &p.tags, &p.fields, p.time) {
            let reason = format!("point {:?} dropped: {e}", p.name);
            self.skip(reason);
            return;
        }
        let run = self.run.as_mut().expect("made above");
        let mut dims = p.dimensions;
        dims.sort_unstable();
        dims.dedup();
        let tag = |d: &str| p.tags.iter().find(|(k, _)| *k == d).map_or("", |(_, v)| *v);
        // most points repeat the previous point's group: compare before building a key
        if let Some(&last) = run.codes.last() {
            let (name, dim_tags, by_name) = &run.groups[last as usize];
            let same = *by_name == p.by_name
                && (!p.by_name || name == p.name)
                && dim_tags.len() == dims.len()
                && dim_tags
                    .iter()
                    .zip(&dims)
                    .all(|((k, v), d)| k == d && v == tag(d));
            if same {
                run.codes.push(last);
                return;
            }
        }
        let dim_tags: Vec<(String, String)> = dims
            .iter()
            .map(|d| ((*d).to_owned(), tag(d).to_owned()))
            .collect();
        let name = if p.by_name {
            p.name.to_owned()
        } else {
            String::new()
        };
        let key = (name, dim_tags, p.by_name);
        let next = run.groups.len() as u32;
        let code = *run.index.entry(key).or_insert_with_key(|k| {
            run.groups.push(k.clone());
            next
        });
        run.codes.push(code);
    }
}

#[cfg(test)]
mod tests;
