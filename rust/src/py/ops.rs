//! Batch operations the task engine needs per chunk, done in one pass in Rust: per-row
//! measurement codes and per-row group codes (Kapacitor's `models.ToGroupID`).
//!
//! Codes come back as little-endian `u32` bytes (`numpy.frombuffer(b, "<u4")`), so that no Python
//! object is made per row; groups come back once per distinct group.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use pyo3::prelude::*;

use crate::py::errors::detached;
use pyo3::types::{PyBytes, PyString, PyTuple};

use crate::batch::{sample_every, CodeMap, EditError, PointBatch, Value, NO_TAG};
use crate::groups::{id_hash, IdSlots, Slots};
use crate::py::batch::{value_from_py, PyPointBatch};
use crate::py::chunk::{codes_arg, PyStreamChunk};
use crate::py::groups::PyGroup;
use crate::py::stateops::group_ints;

/// Distinct groups of a chunk: their ids and dimension tags, in first-seen order.
type Groups = Vec<(String, Vec<(String, String)>)>;

fn codes_bytes<'py>(py: Python<'py>, codes: &[u32]) -> Bound<'py, PyBytes> {
    let mut out = Vec::with_capacity(codes.len() * 4);
    for c in codes {
        out.extend_from_slice(&c.to_le_bytes());
    }
    PyBytes::new(py, &out)
}

/// The group of every row: `dims` (sorted by the caller) or, with `star`, every tag of the row
/// except `exclude`; prefixed by the measurement and a newline when `by_name`.
pub fn group_codes(
    b: &PointBatch,
    dims: &[String],
    star: bool,
    exclude: &[String],
    by_name: bool,
) -> (Vec<u32>, Groups) {
    let (codes, ids, first) = group_ids(b, dims, star, exclude, by_name);
    let cols = group_columns(b, dims, star, exclude);
    let groups = ids
        .into_iter()
        .zip(first)
        .map(|(id, row)| (id, group_tags(b, row, dims, &cols, star)))
        .collect();
    (codes, groups)
}

/// The tag columns that make a row's group: for fixed dims the columns they read (None: no
/// row has that tag), with `star` every column not excluded.
fn group_columns(
    b: &PointBatch,
    dims: &[String],
    star: bool,
    exclude: &[String],
) -> Vec<Option<usize>> {
    if star {
        (0..b.tag_keys.len())
            .filter(|&i| !exclude.contains(&b.tag_keys[i]))
            .map(Some)
            .collect()
    } else {
        dims.iter()
            .map(|d| b.tag_keys.iter().position(|k| k == d))
            .collect()
    }
}

/// `(codes, ids, first rows)`: the group code of every row, and per group its id and the first
/// row of it (whose tags are the group's: see [`group_tags`]), groups in first-seen order.
pub fn group_ids(
    b: &PointBatch,
    dims: &[String],
    star: bool,
    exclude: &[String],
    by_name: bool,
) -> (Vec<u32>, Vec<String>, Vec<usize>) {
    let cols = group_columns(b, dims, star, exclude);
    match dense_radix(b, &cols, by_name) {
        Some(radix) => group_ids_dense(b, dims, &cols, star, by_name, &radix),
        None => group_ids_hashed(b, dims, &cols, star, by_name),
    }
}

/// [`group_ids`] with the row's key (its dictionary codes) hashed.
fn group_ids_hashed(
    b: &PointBatch,
    dims: &[String],
    cols: &[Option<usize>],
    star: bool,
    by_name: bool,
) -> (Vec<u32>, Vec<String>, Vec<usize>) {
    // Rows are matched on their dictionary codes; the id string is built once per group.
    let mut index: CodeMap<Vec<u32>, u32> = CodeMap::default();
    // A dictionary could hold one value twice: groups are still told apart by their ids.
    let mut by_id: HashMap<String, u32> = HashMap::new();
    let mut ids: Vec<String> = Vec::new();
    let mut first: Vec<usize> = Vec::new();
    let mut codes = Vec::with_capacity(b.len());
    let mut key: Vec<u32> = Vec::with_capacity(cols.len() + 1);
    for row in 0..b.len() {
        key.clear();
        if by_name {
            key.push(b.measurement.codes[row]);
        }
        key.extend(
            cols.iter()
                .map(|c| c.map_or(NO_TAG, |c| b.tags[c].codes[row])),
        );
        let code = match index.get(&key) {
            Some(&c) => c,
            None => {
                let tags = group_tags(b, row, dims, cols, star);
                let id = group_id(b.measurement(row), &tags, by_name);
                let c = *by_id.entry(id).or_insert_with_key(|id| {
                    ids.push(id.clone());
                    first.push(row);
                    (ids.len() - 1) as u32
                });
                index.insert(key.clone(), c);
                c
            }
        };
        codes.push(code);
    }
    (codes, ids, first)
}

/// Code combinations up to this many are looked up in a table rather than hashed.
const DENSE_MAX: usize = 1 << 16;

/// The dictionary sizes + 1 (room for [`NO_TAG`]) of the key columns, measurement first when
/// `by_name`, when the table of all their code combinations is small: at most [`DENSE_MAX`] and
/// no more than a few entries per row (else filling it would cost more than hashing).
fn dense_radix(b: &PointBatch, cols: &[Option<usize>], by_name: bool) -> Option<Vec<usize>> {
    let mut radix = Vec::with_capacity(cols.len() + 1);
    if by_name {
        radix.push(b.measurement.dict.len() + 1);
    }
    radix.extend(
        cols.iter()
            .map(|c| c.map_or(1, |c| b.tags[c].dict.len() + 1)),
    );
    let mut size = 1usize;
    for &r in &radix {
        size = size.checked_mul(r)?;
        if size > DENSE_MAX || size > 4 * b.len() + 64 {
            return None;
        }
    }
    Some(radix)
}

/// [`group_ids`] with the row's key a mixed-radix index into a table of group codes.
fn group_ids_dense(
    b: &PointBatch,
    dims: &[String],
    cols: &[Option<usize>],
    star: bool,
    by_name: bool,
    radix: &[usize],
) -> (Vec<u32>, Vec<String>, Vec<usize>) {
    let size: usize = radix.iter().product();
    let mut table: Vec<u32> = vec![NO_TAG; size];
    let mut key: Vec<usize> = vec![0; b.len()];
    // the index of a code in a column of radix r: NO_TAG is the last slot
    let digit = |c: u32, r: usize| if c == NO_TAG { r - 1 } else { c as usize };
    let mut k = 0;
    if by_name {
        let r = radix[0];
        for (x, &c) in key.iter_mut().zip(&b.measurement.codes) {
            *x = digit(c, r);
        }
        k = 1;
    }
    for c in cols {
        let r = radix[k];
        k += 1;
        // a column no row has: radix 1, the digit is always 0
        if let Some(c) = c {
            for (x, &code) in key.iter_mut().zip(&b.tags[*c].codes) {
                *x = *x * r + digit(code, r);
            }
        }
    }
    // A dictionary could hold one value twice: groups are still told apart by their ids.
    let mut by_id: HashMap<String, u32> = HashMap::new();
    let mut ids: Vec<String> = Vec::new();
    let mut first: Vec<usize> = Vec::new();
    let mut codes = Vec::with_capacity(b.len());
    for (row, &x) in key.iter().enumerate() {
        let slot = &mut table[x];
        if *slot == NO_TAG {
            let tags = group_tags(b, row, dims, cols, star);
            let id = group_id(b.measurement(row), &tags, by_name);
            *slot = *by_id.entry(id).or_insert_with_key(|id| {
                ids.push(id.clone());
                first.push(row);
                (ids.len() - 1) as u32
            });
        }
        codes.push(*slot);
    }
    (codes, ids, first)
}

/// Per row its key code (rows with the same dictionary codes in the key columns share one, codes
/// in first-seen order) and each key's first row: [`group_ids`] without naming the groups.
fn local_keys(b: &PointBatch, cols: &[Option<usize>], by_name: bool) -> (Vec<u32>, Vec<usize>) {
    let mut first: Vec<usize> = Vec::new();
    let mut codes = Vec::with_capacity(b.len());
    if let Some(radix) = dense_radix(b, cols, by_name) {
        let size: usize = radix.iter().product();
        let mut table: Vec<u32> = vec![NO_TAG; size];
        let digit = |c: u32, r: usize| if c == NO_TAG { r - 1 } else { c as usize };
        let mut key: Vec<usize> = vec![0; b.len()];
        let mut k = 0;
        if by_name {
            for (x, &c) in key.iter_mut().zip(&b.measurement.codes) {
                *x = digit(c, radix[0]);
            }
            k = 1;
        }
        for c in cols {
            let r = radix[k];
            k += 1;
            if let Some(c) = c {
                for (x, &code) in key.iter_mut().zip(&b.tags[*c].codes) {
                    *x = *x * r + digit(code, r);
                }
            }
        }
        for (row, &x) in key.iter().enumerate() {
            let slot = &mut table[x];
            if *slot == NO_TAG {
                *slot = first.len() as u32;
                first.push(row);
            }
            codes.push(*slot);
        }
        return (codes, first);
    }
    let mut index: CodeMap<Vec<u32>, u32> = CodeMap::default();
    let mut key: Vec<u32> = Vec::with_capacity(cols.len() + 1);
    for row in 0..b.len() {
        key.clear();
        if by_name {
            key.push(b.measurement.codes[row]);
        }
        key.extend(
            cols.iter()
                .map(|c| c.map_or(NO_TAG, |c| b.tags[c].codes[row])),
        );
        let code = match index.get(&key) {
            Some(&c) => c,
            None => {
                let c = first.len() as u32;
                first.push(row);
                index.insert(key.clone(), c);
                c
            }
        };
        codes.push(code);
    }
    (codes, first)
}

/// Groups an index keeps before it starts over (ids of vanished groups do not pile up when no
/// group expiry forgets them).
const INDEX_MAX_GROUPS: usize = 100_000;

#[derive(Default)]
struct IndexState {
    /// group id -> slot (#13: the one way a group is found, by its id's hash)
    ids: IdSlots,
    groups: Slots<Py<PyGroup>>,
    /// one dims tuple per way of grouping, shared by its groups
    dims: HashMap<Vec<String>, Py<PyTuple>>,
}

/// The groups of one `from` (or `groupBy`) across chunks: each distinct key of a chunk is
/// found by its group id, and a group's `Group` is made once and handed out again for every
/// chunk it is in (so the nodes downstream see one object per group).
#[pyclass(name = "GroupIndex", module = "kapfast._native", frozen)]
pub struct PyGroupIndex {
    dims: Vec<String>,
    star: bool,
    exclude: Vec<String>,
    by_name: bool,
    state: Mutex<IndexState>,
}

fn lock_index(m: &Mutex<IndexState>) -> MutexGuard<'_, IndexState> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl PyGroupIndex {
    /// The slot of row `row`'s group, found by its id; made when new.
    fn named(
        &self,
        py: Python<'_>,
        st: &mut IndexState,
        b: &PointBatch,
        row: usize,
        cols: &[Option<usize>],
    ) -> PyResult<u32> {
        let tags = group_tags(b, row, &self.dims, cols, self.star);
        let id = group_id(b.measurement(row), &tags, self.by_name);
        let h = id_hash(&id);
        let groups = &st.groups;
        if let Some(slot) = st.ids.get(&id, h, |s| {
            groups.get(s).is_some_and(|g| g.get().has_id(py, &id))
        }) {
            return Ok(slot);
        }
        let names: Vec<String> = tags.iter().map(|(k, _)| k.clone()).collect();
        let dims = match st.dims.get(&names) {
            Some(t) => t.clone_ref(py),
            None => {
                let t = PyTuple::new(py, &names)?.unbind();
                st.dims.insert(names, t.clone_ref(py));
                t
            }
        };
        let group = Py::new(py, PyGroup::make(py, &id, dims, &tags, self.by_name)?)?;
        let slot = st.groups.add(group);
        st.ids.insert(&id, h, slot);
        Ok(slot)
    }
}

#[pymethods]
impl PyGroupIndex {
    #[new]
    #[pyo3(signature = (dims, star, exclude, by_name))]
    fn new(dims: Vec<String>, star: bool, exclude: Vec<String>, by_name: bool) -> Self {
        PyGroupIndex {
            dims,
            star,
            exclude,
            by_name,
            state: Mutex::new(IndexState::default()),
        }
    }

    /// The chunk of `batch` grouped this way: each row's code into the chunk's groups, the
    /// `Group`s of the batch in first-seen order (as `batch_group_ids` names them), each the
    /// object this index handed out before for its id.
    #[pyo3(signature = (batch, db = None, rp = None))]
    fn chunk(
        &self,
        py: Python<'_>,
        batch: &Bound<'_, PyPointBatch>,
        db: Option<Bound<'_, PyString>>,
        rp: Option<Bound<'_, PyString>>,
    ) -> PyResult<PyStreamChunk> {
        let b = &batch.get().batch;
        let cols = group_columns(b, &self.dims, self.star, &self.exclude);
        let (keys, first) = local_keys(b, &cols, self.by_name);
        let mut guard = lock_index(&self.state);
        let st = &mut *guard;
        if st.groups.len() > INDEX_MAX_GROUPS {
            st.ids.clear();
            st.groups.clear();
        }
        let mut slots: Vec<u32> = Vec::with_capacity(first.len());
        for &row in &first {
            slots.push(self.named(py, st, b, row, &cols)?);
        }
        // keys naming one group (a missing tag and an empty value) share its code
        let mut code_of: CodeMap<u32, u32> = CodeMap::default();
        let mut groups: Vec<Py<PyGroup>> = Vec::new();
        let code_of_key: Vec<u32> = slots
            .iter()
            .map(|&s| {
                *code_of.entry(s).or_insert_with(|| {
                    if let Some(g) = st.groups.get(s) {
                        groups.push(g.clone_ref(py));
                    }
                    (groups.len() - 1) as u32
                })
            })
            .collect();
        drop(guard);
        let codes: Vec<u32> = keys.iter().map(|&k| code_of_key[k as usize]).collect();
        let empty = || PyString::intern(py, "");
        PyStreamChunk::make(
            py,
            batch.clone().unbind(),
            Arc::new(codes),
            PyTuple::new(py, groups)?.unbind(),
            db.unwrap_or_else(empty).unbind(),
            rp.unwrap_or_else(empty).unbind(),
        )
    }

    /// Forget the group of id `group_id` (it expired): seen again, it is made anew.
    fn forget(&self, py: Python<'_>, group_id: &str) -> bool {
        let mut guard = lock_index(&self.state);
        let st = &mut *guard;
        let h = id_hash(group_id);
        let groups = &st.groups;
        let Some(slot) = st.ids.get(group_id, h, |s| {
            groups.get(s).is_some_and(|g| g.get().has_id(py, group_id))
        }) else {
            return false;
        };
        st.groups.take(slot);
        st.ids.remove(group_id, h, slot);
        true
    }

    fn __len__(&self) -> usize {
        lock_index(&self.state).groups.len()
    }
}

/// The dimension tags of row `row`'s group.
fn group_tags(
    b: &PointBatch,
    row: usize,
    dims: &[String],
    cols: &[Option<usize>],
    star: bool,
) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = Vec::new();
    if star {
        for &c in cols.iter().flatten() {
            if let Some(v) = b.tags[c].get(row) {
                tags.push((b.tag_keys[c].clone(), v.to_owned()));
            }
        }
    } else {
        for (d, col) in dims.iter().zip(cols) {
            let v = col.and_then(|c| b.tags[c].get(row)).unwrap_or("");
            tags.push((d.clone(), v.to_owned()));
        }
    }
    tags
}

/// Kapacitor's group id: `k=v` pairs joined by commas, after `measurement\n` when `by_name`.
pub(crate) fn group_id(measurement: &str, tags: &[(String, String)], by_name: bool) -> String {
    let mut id = String::new();
    if by_name {
        id.push_str(measurement);
        id.push('\n');
    }
    for (i, (k, v)) in tags.iter().enumerate() {
        if i > 0 {
            id.push(',');
        }
        id.push_str(k);
        id.push('=');
        id.push_str(v);
    }
    id
}

/// The rows of each group code `0..n`, as compact batches, rows in their order.
pub fn split_by_codes(b: &PointBatch, codes: &[u32], n: usize) -> Vec<PointBatch> {
    let mut idx: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (row, &c) in codes.iter().enumerate() {
        if let Some(v) = idx.get_mut(c as usize) {
            v.push(row);
        }
    }
    idx.iter().map(|rows| b.take_compact(rows)).collect()
}

/// One batch per group code `0..n_groups` (codes: a chunk's `Codes`, a uint32 buffer or
/// little-endian u32 bytes, one per row).
#[pyfunction]
fn batch_split<'py>(
    py: Python<'py>,
    batch: &Bound<'py, PyPointBatch>,
    codes: &Bound<'py, PyAny>,
    n_groups: usize,
) -> PyResult<Vec<PyPointBatch>> {
    let b = batch.get().batch.clone();
    let codes = group_ints(py, codes, &b)?;
    let parts = detached(py, || split_by_codes(&b, &codes, n_groups))?;
    Ok(parts.into_iter().map(PyPointBatch::new).collect())
}

/// The batch with only the fields named in `keep` (in any order; unknown names are ignored).
pub fn select_fields(b: &PointBatch, keep: &[String]) -> PointBatch {
    PointBatch {
        time: b.time.clone(),
        measurement: b.measurement.clone(),
        tag_keys: b.tag_keys.clone(),
        tags: b.tags.clone(),
        fields: b
            .fields
            .iter()
            .filter(|c| keep.contains(&c.name))
            .cloned()
            .collect(),
        series: b.series.clone(),
        series_keys: b.series_keys.clone(),
    }
}

/// The batch with only the fields named in `keep` (eval without `.keep()`).
#[pyfunction]
fn batch_select_fields(
    py: Python<'_>,
    batch: &Bound<'_, PyPointBatch>,
    keep: Vec<String>,
) -> PyResult<PyPointBatch> {
    let b = batch.get().batch.clone();
    Ok(PyPointBatch::new(detached(py, || {
        select_fields(&b, &keep)
    })?))
}

/// `(codes, dictionary)`: the measurement of every row as a code into the dictionary.
#[pyfunction]
fn batch_measurement_codes<'py>(
    py: Python<'py>,
    batch: &Bound<'py, PyPointBatch>,
) -> (Bound<'py, PyBytes>, Vec<String>) {
    let b = &batch.get().batch;
    (
        codes_bytes(py, &b.measurement.codes),
        (*b.measurement.dict).clone(),
    )
}

/// `(codes, groups)`: Kapacitor's group of every row (see [`group_codes`]).
#[pyfunction]
#[pyo3(signature = (batch, dims, star=false, exclude=Vec::new(), by_name=false))]
fn batch_group_codes<'py>(
    py: Python<'py>,
    batch: &Bound<'py, PyPointBatch>,
    dims: Vec<String>,
    star: bool,
    exclude: Vec<String>,
    by_name: bool,
) -> PyResult<(Bound<'py, PyBytes>, Groups)> {
    let b = batch.get().batch.clone();
    let (codes, groups) = detached(py, || group_codes(&b, &dims, star, &exclude, by_name))?;
    Ok((codes_bytes(py, &codes), groups))
}

// --- whole-chunk edits of the stateless nodes (default, delete, shift, eval.tags, outputs) ----

fn edit_error(e: EditError) -> PyErr {
    pyo3::exceptions::PyValueError::new_err(e.to_string())
}

/// Times `+ shift`, truncated to `truncate`, rounded to `round` (0 = off), in one pass.
#[pyfunction]
#[pyo3(signature = (batch, shift=0, truncate=0, round=0))]
fn batch_retime(
    py: Python<'_>,
    batch: &Bound<'_, PyPointBatch>,
    shift: i64,
    truncate: i64,
    round: i64,
) -> PyResult<PyPointBatch> {
    if truncate < 0 || round < 0 {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "truncate and round must not be negative durations",
        ));
    }
    let b = batch.get().batch.clone();
    let out = detached(py, || b.retime(shift, truncate, round))?;
    out.map(PyPointBatch::new).map_err(edit_error)
}

/// `default()`: `(batch, fields_defaulted, tags_defaulted)`; fields before tags, pairs in order.
#[pyfunction]
fn batch_default(
    py: Python<'_>,
    batch: &Bound<'_, PyPointBatch>,
    fields: Vec<(String, Bound<'_, PyAny>)>,
    tags: Vec<(String, String)>,
) -> PyResult<(PyPointBatch, u64, u64)> {
    let fields: Vec<(String, Value)> = fields
        .into_iter()
        .map(|(k, v)| value_from_py(&v, None, &k).map(|v| (k, v)))
        .collect::<PyResult<_>>()?;
    let b = batch.get().batch.clone();
    let (out, nf, nt) = detached(py, || {
        let (b1, nf) = b.default_fields(&fields);
        let (b2, nt) = b1.default_tags(&tags);
        (b2, nf, nt)
    })?;
    Ok((PyPointBatch::new(out), nf, nt))
}

/// `delete()`: `(batch, fields_deleted, tags_deleted)`.
#[pyfunction]
fn batch_delete(
    py: Python<'_>,
    batch: &Bound<'_, PyPointBatch>,
    fields: Vec<String>,
    tags: Vec<String>,
) -> PyResult<(PyPointBatch, u64, u64)> {
    let b = batch.get().batch.clone();
    let (out, nf, nt) = detached(py, || {
        let (b1, nf) = b.drop_fields(&fields);
        let (b2, nt) = b1.drop_tags(&tags);
        (b2, nf, nt)
    })?;
    Ok((PyPointBatch::new(out), nf, nt))
}

/// eval's `.tags()`: string field `field` becomes tag `tag` (see `PointBatch::field_to_tag`).
#[pyfunction]
fn batch_field_to_tag(
    py: Python<'_>,
    batch: &Bound<'_, PyPointBatch>,
    field: String,
    tag: String,
) -> PyResult<PyPointBatch> {
    let b = batch.get().batch.clone();
    let out = detached(py, || b.field_to_tag(&field, &tag))?;
    out.map(PyPointBatch::new).map_err(edit_error)
}

/// `base` with the tags of `src` (same rows).
#[pyfunction]
fn batch_with_tags_of(
    py: Python<'_>,
    base: &Bound<'_, PyPointBatch>,
    src: &Bound<'_, PyPointBatch>,
) -> PyResult<PyPointBatch> {
    let (a, b) = (base.get().batch.clone(), src.get().batch.clone());
    let out = detached(py, || a.with_tags_of(&b))?;
    out.map(PyPointBatch::new).map_err(edit_error)
}

/// `base` with `src`'s field columns `names` (same rows) replacing or added to its own.
#[pyfunction]
fn batch_with_fields_of(
    py: Python<'_>,
    base: &Bound<'_, PyPointBatch>,
    src: &Bound<'_, PyPointBatch>,
    names: Vec<String>,
) -> PyResult<PyPointBatch> {
    let (a, b) = (base.get().batch.clone(), src.get().batch.clone());
    let out = detached(py, || a.with_fields_of(&b, &names))?;
    out.map(PyPointBatch::new).map_err(edit_error)
}

/// Only the fields `keep`; rows left without any are marked field-less.
#[pyfunction]
fn batch_keep_fields(
    py: Python<'_>,
    batch: &Bound<'_, PyPointBatch>,
    keep: Vec<String>,
) -> PyResult<PyPointBatch> {
    let b = batch.get().batch.clone();
    Ok(PyPointBatch::new(detached(py, || {
        b.select_fields_marked(&keep)
    })?))
}

/// influxDBOut: every row renamed to `measurement` (unless empty) and given `tags`.
#[pyfunction]
#[pyo3(signature = (batch, measurement="", tags=Vec::new()))]
fn batch_override(
    py: Python<'_>,
    batch: &Bound<'_, PyPointBatch>,
    measurement: &str,
    tags: Vec<(String, String)>,
) -> PyResult<PyPointBatch> {
    let b = batch.get().batch.clone();
    let m = measurement.to_owned();
    Ok(PyPointBatch::new(detached(py, || {
        b.with_overrides(&m, &tags)
    })?))
}

/// The rows in time order, equal times in their order.
#[pyfunction]
fn batch_sort_by_time(py: Python<'_>, batch: &Bound<'_, PyPointBatch>) -> PyResult<PyPointBatch> {
    let b = batch.get().batch.clone();
    Ok(PyPointBatch::new(detached(py, || b.sorted_by_time())?))
}

/// The order that merges runs of rows each in time order (`times[k]`: run `k`'s times) into one
/// run in time order: equal times keep the runs' order, then the rows' order (a stable merge).
/// Returns row numbers into the runs' concatenation.
fn merge_order(times: &[&[i64]]) -> Vec<usize> {
    let mut all: Vec<(i64, usize)> = Vec::with_capacity(times.iter().map(|t| t.len()).sum());
    for t in times {
        let base = all.len();
        all.extend(t.iter().enumerate().map(|(i, &v)| (v, base + i)));
    }
    // a stable sort finds the runs already in order and merges them (O(n log k) for k sorted runs)
    all.sort_by_key(|&(t, _)| t);
    all.into_iter().map(|(_, i)| i).collect()
}

/// `union`'s merge of what one write brought it from its parents: the rows of `batches` as one
/// batch in time order (equal times in the order of `batches`, then of their rows), and the
/// order taken (little-endian `u32` row numbers into the batches' concatenation) so that the
/// caller reorders the rows' group codes alike.
#[pyfunction]
fn batch_merge_by_time<'py>(
    py: Python<'py>,
    batches: Vec<Bound<'py, PyPointBatch>>,
) -> PyResult<(PyPointBatch, Bound<'py, PyBytes>)> {
    let all: Vec<Arc<PointBatch>> = batches.iter().map(|b| b.get().batch.clone()).collect();
    let total: usize = all.iter().map(|b| b.len()).sum();
    if u32::try_from(total).is_err() {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "batch_merge_by_time: more than 2**32 rows",
        ));
    }
    let (merged, order) = detached(py, move || {
        let times: Vec<&[i64]> = all.iter().map(|b| b.time.as_slice()).collect();
        let order = merge_order(&times);
        let refs: Vec<&PointBatch> = all.iter().map(|b| &**b).collect();
        // gathered straight from the parts: no concatenated copy first (#13)
        let merged = crate::batch::concat_take(&refs, &order);
        let bytes: Vec<u8> = order
            .iter()
            .flat_map(|&i| (i as u32).to_le_bytes())
            .collect();
        (merged, bytes)
    })?;
    Ok((PyPointBatch::new(merged), PyBytes::new(py, &order)))
}

/// `sample(n)`: `(mask, counts)`. `codes` are the chunk's group codes (its `Codes`, or
/// little-endian u32 bytes), `counts[g]` group `g`'s running count before the chunk; returns the
/// keep mask (one byte per row) and the counts after it.
#[pyfunction]
fn sample_mask<'py>(
    py: Python<'py>,
    codes: &Bound<'py, PyAny>,
    counts: Vec<u64>,
    every: u64,
) -> PyResult<(Bound<'py, PyBytes>, Vec<u64>)> {
    let codes = codes_arg(codes)?;
    if let Some(&bad) = codes.iter().find(|&&c| c as usize >= counts.len()) {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "group code {bad} but only {} counts",
            counts.len()
        )));
    }
    let mut counts = counts;
    let mask = detached(py, || sample_every(&codes, &mut counts, every))?;
    let bytes: Vec<u8> = mask.into_iter().map(u8::from).collect();
    Ok((PyBytes::new(py, &bytes), counts))
}

/// `(codes, ids, first_rows)`: every row's group code and each group's id and first row; the
/// tags of a group are asked for only when the caller has not seen it (`batch_group_tags`).
#[pyfunction]
#[pyo3(signature = (batch, dims, star=false, exclude=Vec::new(), by_name=false))]
fn batch_group_ids<'py>(
    py: Python<'py>,
    batch: &Bound<'py, PyPointBatch>,
    dims: Vec<String>,
    star: bool,
    exclude: Vec<String>,
    by_name: bool,
) -> PyResult<(Bound<'py, PyBytes>, Vec<String>, Vec<usize>)> {
    let b = batch.get().batch.clone();
    let (codes, ids, first) = detached(py, || group_ids(&b, &dims, star, &exclude, by_name))?;
    Ok((codes_bytes(py, &codes), ids, first))
}

/// The dimension tags of the groups of `rows` (as `batch_group_ids` forms them).
#[pyfunction]
#[pyo3(signature = (batch, rows, dims, star=false, exclude=Vec::new()))]
fn batch_group_tags(
    batch: &Bound<'_, PyPointBatch>,
    rows: Vec<usize>,
    dims: Vec<String>,
    star: bool,
    exclude: Vec<String>,
) -> PyResult<Vec<Vec<(String, String)>>> {
    let b = &batch.get().batch;
    if let Some(&bad) = rows.iter().find(|&&r| r >= b.len()) {
        return Err(pyo3::exceptions::PyIndexError::new_err(format!(
            "row {bad} out of range for a batch of {} rows",
            b.len()
        )));
    }
    let cols = group_columns(b, &dims, star, &exclude);
    Ok(rows
        .into_iter()
        .map(|r| group_tags(b, r, &dims, &cols, star))
        .collect())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyGroupIndex>()?;
    m.add_function(wrap_pyfunction!(batch_group_ids, m)?)?;
    m.add_function(wrap_pyfunction!(batch_group_tags, m)?)?;
    // whole-chunk edits (default, delete, shift, sample, eval.tags, outputs)
    m.add_function(wrap_pyfunction!(batch_retime, m)?)?;
    m.add_function(wrap_pyfunction!(batch_default, m)?)?;
    m.add_function(wrap_pyfunction!(batch_delete, m)?)?;
    m.add_function(wrap_pyfunction!(batch_field_to_tag, m)?)?;
    m.add_function(wrap_pyfunction!(batch_with_tags_of, m)?)?;
    m.add_function(wrap_pyfunction!(batch_with_fields_of, m)?)?;
    m.add_function(wrap_pyfunction!(batch_keep_fields, m)?)?;
    m.add_function(wrap_pyfunction!(batch_override, m)?)?;
    m.add_function(wrap_pyfunction!(batch_sort_by_time, m)?)?;
    m.add_function(wrap_pyfunction!(batch_merge_by_time, m)?)?;
    m.add_function(wrap_pyfunction!(sample_mask, m)?)?;
    m.add_function(wrap_pyfunction!(batch_measurement_codes, m)?)?;
    m.add_function(wrap_pyfunction!(batch_split, m)?)?;
    m.add_function(wrap_pyfunction!(batch_select_fields, m)?)?;
    m.add_function(wrap_pyfunction!(batch_group_codes, m)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineproto::{parse, Precision};

    #[test]
    fn merge_order_is_stable_across_and_within_runs() {
        let a: &[i64] = &[1, 2, 2, 5];
        let b: &[i64] = &[0, 2, 5, 9];
        let c: &[i64] = &[];
        // equal times: run a's rows before run b's, each run's rows in their order
        assert_eq!(merge_order(&[a, b, c]), vec![4, 0, 1, 2, 5, 3, 6, 7]);
        assert_eq!(merge_order(&[c]), Vec::<usize>::new());
    }

    #[test]
    fn merge_order_matches_a_stable_sort_of_random_runs() {
        let mut seed: u64 = 7;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as i64
        };
        for _ in 0..50 {
            let mut runs: Vec<Vec<i64>> = Vec::new();
            for _ in 0..(next() % 4 + 1) {
                let mut r: Vec<i64> = (0..next() % 40).map(|_| next() % 20).collect();
                r.sort();
                runs.push(r);
            }
            let refs: Vec<&[i64]> = runs.iter().map(|r| r.as_slice()).collect();
            let flat: Vec<i64> = runs.concat();
            let mut want: Vec<usize> = (0..flat.len()).collect();
            want.sort_by_key(|&i| flat[i]);
            assert_eq!(merge_order(&refs), want);
        }
    }

    #[test]
    fn dense_group_table_matches_hashing() {
        let mut text = String::new();
        for i in 0..300 {
            let m = ["cpu", "mem"][i % 2];
            let host = if i % 7 == 0 {
                String::new()
            } else {
                format!(",host=h{}", i % 13)
            };
            let dc = if i % 5 == 0 {
                String::new()
            } else {
                format!(",dc=d{}", i % 3)
            };
            text.push_str(&format!("{m}{dc}{host} v=1 {i}\n"));
        }
        let b = parse(text.as_bytes(), Precision::Nanosecond, 0).batch;
        let cases: [(&[&str], bool, &[&str], bool); 5] = [
            (&["dc", "host"], false, &[], false),
            (&["host", "nope"], false, &[], true),
            (&[], true, &["dc"], true),
            (&[], true, &[], false),
            (&[], false, &[], false),
        ];
        for (dims, star, exclude, by_name) in cases {
            let dims: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
            let exclude: Vec<String> = exclude.iter().map(|d| d.to_string()).collect();
            let cols = group_columns(&b, &dims, star, &exclude);
            let radix = dense_radix(&b, &cols, by_name).expect("small dictionaries");
            assert_eq!(
                group_ids_dense(&b, &dims, &cols, star, by_name, &radix),
                group_ids_hashed(&b, &dims, &cols, star, by_name),
                "{dims:?} {star} {by_name}"
            );
        }
        // more combinations than a few per row: hashed
        let cols = group_columns(&b, &["dc".into(), "host".into()], false, &[]);
        assert!(dense_radix(&b.take(&[0, 1]), &cols, true).is_none());
    }

    #[test]
    fn groups_follow_kapacitor_ids() {
        let out = parse(
            b"cpu,host=a,dc=x v=1 1\ncpu,host=b v=1 2\nmem,host=a,dc=x v=1 3\n",
            Precision::Nanosecond,
            0,
        );
        assert!(out.errors.is_empty());
        let b = out.batch;
        let (codes, groups) = group_codes(&b, &["dc".into(), "host".into()], false, &[], false);
        assert_eq!(codes, vec![0, 1, 0]);
        assert_eq!(groups[0].0, "dc=x,host=a");
        assert_eq!(groups[1].0, "dc=,host=b");
        let (codes, groups) = group_codes(&b, &[], true, &["dc".into()], true);
        assert_eq!(codes, vec![0, 1, 2]);
        assert_eq!(groups[2].0, "mem\nhost=a");
        let (_, groups) = group_codes(&b, &[], false, &[], false);
        assert_eq!(groups, vec![(String::new(), vec![])]);
        let parts = split_by_codes(&b, &[1, 0, 1], 2);
        assert_eq!(parts[0].len(), 1);
        assert_eq!(parts[0].row_tags(0), vec![("host", "b")]);
        assert_eq!(parts[1].measurement(1), "mem");
        assert_eq!(parts[1].series_keys.len(), 2);
        assert_eq!(*parts[1].tags[0].dict, vec!["x".to_string()]);
        let none = select_fields(&b, &["nope".into()]);
        assert!(none.fields.is_empty());
        assert_eq!(select_fields(&b, &["v".into()]).fields.len(), 1);
    }

    #[test]
    fn groups_are_told_apart_by_id_even_with_a_repeated_dictionary_value() {
        let out = parse(
            b"cpu,host=a v=1 1\ncpu,host=a,dc=x v=1 2\ncpu v=1 3\n",
            Precision::Nanosecond,
            0,
        );
        let mut b = out.batch;
        // host "a" twice in the dictionary: rows 0 and 1 use different codes for it.
        let host = b.tag_keys.iter().position(|k| k == "host").unwrap();
        std::sync::Arc::make_mut(&mut b.tags[host].dict).push("a".into());
        b.tags[host].codes[1] = 1;
        let (codes, groups) = group_codes(&b, &["host".into()], false, &[], false);
        assert_eq!(codes, vec![0, 0, 1]);
        assert_eq!(
            groups[1],
            ("host=".to_string(), vec![("host".into(), String::new())])
        );
        let (codes, groups) = group_codes(&b, &[], true, &[], false);
        assert_eq!(codes, vec![0, 1, 2]);
        assert_eq!(groups[2].0, "");
        let (codes, _) = group_codes(&PointBatch::default(), &[], true, &[], true);
        assert!(codes.is_empty());
    }
}
