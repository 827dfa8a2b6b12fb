//! `Group` and `GroupTable`: a group as one small object, and a node's groups as dense slots
//! (rust/src/groups.rs). An idle group costs its `Group` (about 64 bytes and its id string,
//! its tag values read out of the id) and an entry per table, instead of a Python dataclass
//! with tuples of tuples and a dict entry and objects per node (#19).

use std::sync::{Arc, Mutex, MutexGuard};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple};

use crate::groups::{id_hash, IdSlots, IntMap, Slots};
use crate::py::chunk::{PyCodes, PyStreamChunk};
use crate::py::errors::detached;

/// Where a group's tag values are: spans of its id (the common case: the id is made of the
/// tags, as Kapacitor's `ToGroupID` makes it), else the tags as given.
enum Tags {
    /// up to two `(start, len)` spans (u16 each) of the id, one per dimension in order
    Spans(u64, u8),
    Tuple(Py<PyTuple>),
}

/// A group as Kapacitor forms it (`models.ToGroupID`): `id` is `tag1=v1,tag2=v2` over the
/// dimension tags sorted by name, after the measurement and a newline when grouped by
/// measurement; the ungrouped group has id `""`. `tags` are the dimension tags' values.
#[pyclass(name = "Group", module = "kapfast._native", frozen)]
pub struct PyGroup {
    id: Py<PyString>,
    dims: Py<PyTuple>,
    tags: Tags,
    hash: u64,
    by_measurement: bool,
}

/// The spans of `tags`' values in `id` when `tags`' keys are `dims` and the id is made of
/// them (at most two, each within the first 64 KiB).
fn spans_of(id: &str, dims: &[String], tags: &[(String, String)]) -> Option<(u64, u8)> {
    if tags.len() > 2 || tags.len() != dims.len() {
        return None;
    }
    let mut packed = 0u64;
    let mut pos = 0usize;
    for (i, ((k, v), d)) in tags.iter().zip(dims).enumerate() {
        if k != d {
            return None;
        }
        let rest = id.get(pos..)?;
        let at = rest.find(&format!("{k}="))? + pos + k.len() + 1;
        if id.get(at..at + v.len())? != v || at + v.len() > u16::MAX as usize {
            return None;
        }
        packed |= ((at as u64) << 16 | v.len() as u64) << (32 * i);
        pos = at + v.len();
    }
    Some((packed, tags.len() as u8))
}

impl PyGroup {
    /// A group of `id`, dimensions `dims` (a tuple shared by the groups of one way of grouping).
    pub fn make(
        py: Python<'_>,
        id: &str,
        dims: Py<PyTuple>,
        tags: &[(String, String)],
        by_measurement: bool,
    ) -> PyResult<PyGroup> {
        let names: Vec<String> = dims.bind(py).extract()?;
        let tags = match spans_of(id, &names, tags) {
            Some((packed, n)) => Tags::Spans(packed, n),
            None => Tags::Tuple(PyTuple::new(py, tags.iter().map(|(k, v)| (k, v)))?.unbind()),
        };
        Ok(PyGroup {
            id: PyString::new(py, id).unbind(),
            dims,
            tags,
            hash: id_hash(id),
            by_measurement,
        })
    }

    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// `(id, dimensions, by measurement)`: the group as the UDF protocol names it.
    pub fn key(&self, py: Python<'_>) -> PyResult<(String, Vec<String>, bool)> {
        Ok((
            self.id_string(py)?,
            self.dims.bind(py).extract()?,
            self.by_measurement,
        ))
    }

    /// Whether this group's id is `id` (the same string object, or equal text).
    pub fn has_id(&self, py: Python<'_>, id: &str) -> bool {
        self.id.bind(py).to_str().is_ok_and(|s| s == id)
    }

    fn same_id(&self, py: Python<'_>, other: &PyGroup) -> bool {
        self.id.is(&other.id) || self.id.bind(py).to_str().ok() == other.id.bind(py).to_str().ok()
    }

    pub fn id_string(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.id.bind(py).to_str()?.to_owned())
    }

    /// The dimension tags as `(key, value)` strings (for Rust state that reads them).
    pub fn tag_pairs(&self, py: Python<'_>) -> PyResult<Vec<(String, String)>> {
        self.tag_tuple(py)?.extract()
    }

    fn tag_tuple<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        match &self.tags {
            Tags::Tuple(t) => Ok(t.bind(py).clone()),
            Tags::Spans(packed, n) => {
                let id = self.id.bind(py).to_str()?;
                let dims = self.dims.bind(py);
                let mut pairs: Vec<Bound<'py, PyTuple>> = Vec::with_capacity(*n as usize);
                for i in 0..*n as usize {
                    let span = packed >> (32 * i);
                    let (at, len) = (((span >> 16) & 0xffff) as usize, (span & 0xffff) as usize);
                    let v = PyString::new(py, &id[at..at + len]);
                    pairs.push(PyTuple::new(py, [dims.get_item(i)?, v.into_any()])?);
                }
                PyTuple::new(py, pairs)
            }
        }
    }
}

#[pymethods]
impl PyGroup {
    #[new]
    #[pyo3(signature = (id = String::new(), dims = None, by_measurement = false, tags = None))]
    fn new(
        py: Python<'_>,
        id: String,
        dims: Option<&Bound<'_, PyAny>>,
        by_measurement: bool,
        tags: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyGroup> {
        let dims: Py<PyTuple> = match dims {
            Some(d) => match d.downcast::<PyTuple>() {
                Ok(t) => t.clone().unbind(),
                Err(_) => PyTuple::new(py, d.extract::<Vec<String>>()?)?.unbind(),
            },
            None => PyTuple::empty(py).unbind(),
        };
        let tags: Vec<(String, String)> = match tags {
            Some(t) => t.extract()?,
            None => Vec::new(),
        };
        PyGroup::make(py, &id, dims, &tags, by_measurement)
    }

    #[getter]
    fn id(&self, py: Python<'_>) -> Py<PyString> {
        self.id.clone_ref(py)
    }

    #[getter]
    fn dims(&self, py: Python<'_>) -> Py<PyTuple> {
        self.dims.clone_ref(py)
    }

    #[getter]
    fn by_measurement(&self) -> bool {
        self.by_measurement
    }

    /// The dimension tags as `((key, value), ...)`.
    #[getter]
    fn tags<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        self.tag_tuple(py)
    }

    #[getter]
    fn tag_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for pair in self.tag_tuple(py)?.iter() {
            let (k, v): (Bound<'py, PyAny>, Bound<'py, PyAny>) = pair.extract()?;
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Ok(o) = other.downcast::<PyGroup>() else {
            return Ok(false);
        };
        let o = o.get();
        Ok(self.hash == o.hash
            && self.by_measurement == o.by_measurement
            && self.same_id(py, o)
            && self.dims.bind(py).eq(o.dims.bind(py))?
            && self.tag_tuple(py)?.eq(o.tag_tuple(py)?)?)
    }

    fn __hash__(&self) -> u64 {
        self.hash
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Group(id={}, dims={}, by_measurement={}, tags={})",
            self.id.bind(py).repr()?,
            self.dims.bind(py).repr()?,
            if self.by_measurement { "True" } else { "False" },
            self.tag_tuple(py)?.repr()?
        ))
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let g = slf.get();
        let args = (
            g.id.clone_ref(py),
            g.dims.clone_ref(py),
            g.by_measurement,
            g.tag_tuple(py)?,
        );
        PyTuple::new(
            py,
            [
                slf.get_type().into_any(),
                args.into_pyobject(py)?.into_any(),
            ],
        )
    }
}

/// Slot meaning "not in the table".
const NONE: u32 = u32::MAX;

#[derive(Default)]
struct TableState {
    ids: IdSlots,
    groups: Slots<Py<PyGroup>>,
}

impl TableState {
    fn find(&self, py: Python<'_>, g: &PyGroup) -> Option<u32> {
        let groups = &self.groups;
        let id = g.id.bind(py);
        let text = id.to_str().ok()?;
        self.ids.get(text, g.hash, |s| {
            groups
                .get(s)
                .is_some_and(|x| x.get().id.is(&g.id) || x.get().has_id(py, text))
        })
    }

    fn find_id(&self, py: Python<'_>, id: &str) -> Option<u32> {
        let groups = &self.groups;
        self.ids.get(id, id_hash(id), |s| {
            groups.get(s).is_some_and(|x| x.get().has_id(py, id))
        })
    }

    fn add(&mut self, py: Python<'_>, g: &Bound<'_, PyGroup>) -> PyResult<u32> {
        let text = g.get().id_string(py)?;
        let slot = self.groups.add(g.clone().unbind());
        self.ids.insert(&text, g.get().hash, slot);
        Ok(slot)
    }
}

/// The groups one node keeps state for, each at a dense slot (its int in the node's columns
/// and kernels). A forgotten group's slot goes to the next new group, so per-slot state stays
/// as long as the most groups held at once. Groups are found by id (hashed once, in `Group`).
#[pyclass(name = "GroupTable", module = "kapfast._native", frozen)]
pub struct PyGroupTable {
    st: Mutex<TableState>,
}

impl PyGroupTable {
    fn lock(&self) -> MutexGuard<'_, TableState> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn as_group<'a, 'py>(g: &'a Bound<'py, PyAny>) -> PyResult<&'a Bound<'py, PyGroup>> {
    Ok(g.downcast::<PyGroup>()?)
}

#[pymethods]
impl PyGroupTable {
    #[new]
    fn new() -> Self {
        PyGroupTable {
            st: Mutex::new(TableState::default()),
        }
    }

    /// Each group's slot (little-endian u32; 0xFFFFFFFF: not in the table); `groups` a
    /// chunk's groups (a tuple) or any sequence of groups.
    fn slots<'py>(
        &self,
        py: Python<'py>,
        groups: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let st = self.lock();
        let mut out = Vec::with_capacity(groups.len().unwrap_or(0) * 4);
        for g in groups.try_iter()? {
            let g = g?;
            let s = st.find(py, as_group(&g)?.get()).unwrap_or(NONE);
            out.extend_from_slice(&s.to_le_bytes());
        }
        Ok(PyBytes::new(py, &out))
    }

    /// The slot of `group`, None when not in the table.
    fn get(&self, py: Python<'_>, group: &Bound<'_, PyGroup>) -> Option<u32> {
        self.lock().find(py, group.get())
    }

    /// The slot of the group of id `group_id`, None when not in the table.
    fn get_id(&self, py: Python<'_>, group_id: &str) -> Option<u32> {
        self.lock().find_id(py, group_id)
    }

    /// Add `group` (not in the table): its new slot.
    fn add(&self, py: Python<'_>, group: &Bound<'_, PyGroup>) -> PyResult<u32> {
        let mut st = self.lock();
        if let Some(s) = st.find(py, group.get()) {
            return Ok(s);
        }
        st.add(py, group)
    }

    /// Add the groups not in the table yet of a chunk's rows (a chunk may list groups none of
    /// its rows has: those are left out), or of a sequence of groups (all of them); how many.
    fn see(&self, py: Python<'_>, groups: &Bound<'_, PyAny>) -> PyResult<usize> {
        let (groups, used): (Bound<'_, PyTuple>, Vec<bool>) =
            match groups.downcast::<PyStreamChunk>() {
                Ok(chunk) => {
                    let c = chunk.get();
                    let groups = c.groups(py).clone();
                    let n = groups.len();
                    let mut used = vec![n == 1; n];
                    if n > 1 {
                        for &code in c.codes().iter() {
                            used[code as usize] = true;
                        }
                    }
                    (groups, used)
                }
                Err(_) => {
                    let t = PyTuple::new(py, groups.try_iter()?.collect::<PyResult<Vec<_>>>()?)?;
                    let n = t.len();
                    (t, vec![true; n])
                }
            };
        let mut st = self.lock();
        let mut added = 0;
        for (g, u) in groups.iter().zip(used) {
            let g = as_group(&g)?;
            if u && st.find(py, g.get()).is_none() {
                st.add(py, g)?;
                added += 1;
            }
        }
        Ok(added)
    }

    /// Put `group` at `slot` (restoring a checkpoint).
    fn put(&self, py: Python<'_>, slot: u32, group: &Bound<'_, PyGroup>) -> PyResult<()> {
        let mut st = self.lock();
        if let Some(old) = st.groups.take(slot) {
            let text = old.get().id_string(py)?;
            st.ids.remove(&text, old.get().hash, slot);
        }
        let text = group.get().id_string(py)?;
        st.groups.put(slot, group.clone().unbind());
        st.ids.insert(&text, group.get().hash, slot);
        Ok(())
    }

    /// Forget the group of id `group_id`: its slot (now free), None when not in the table.
    fn forget(&self, py: Python<'_>, group_id: &str) -> Option<u32> {
        let mut st = self.lock();
        let slot = st.find_id(py, group_id)?;
        st.groups.take(slot);
        st.ids.remove(group_id, id_hash(group_id), slot);
        Some(slot)
    }

    /// The group at `slot` (None: a free slot).
    fn group(&self, py: Python<'_>, slot: u32) -> Option<Py<PyGroup>> {
        self.lock().groups.get(slot).map(|g| g.clone_ref(py))
    }

    /// `(slot, group)` of every group, by slot.
    fn items(&self, py: Python<'_>) -> Vec<(u32, Py<PyGroup>)> {
        self.lock()
            .groups
            .iter()
            .map(|(s, g)| (s, g.clone_ref(py)))
            .collect()
    }

    /// One past the highest slot in use so far (the length per-slot columns need).
    fn end(&self) -> usize {
        self.lock().groups.end()
    }

    fn clear(&self) {
        let mut st = self.lock();
        st.groups.clear();
        st.ids.clear();
    }

    fn __len__(&self) -> usize {
        self.lock().groups.len()
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyGroup>()?;
    m.add_class::<PyGroupTable>()?;
    m.add_class::<PyGroupIntTable>()?;
    Ok(())
}

/// A node's groups by int (`GroupInts`): an int is never reused (a group forgotten and seen
/// again gets a new one), and a chunk's per-row ints are found from its `Group` objects by
/// their id hashes, the same object matched without reading its id.
///
/// One table, where a node kept a dict of ints by id, a dict of groups by int, the ints as
/// Python objects and a map of known objects by address: about 140 bytes a group, now about
/// 70 (issue #20, memory per buffered point).
#[derive(Default)]
struct IntsState {
    next: u32,
    ids: IdSlots,
    groups: IntMap<Py<PyGroup>>,
}

impl IntsState {
    fn find(&self, py: Python<'_>, g: &Bound<'_, PyGroup>) -> PyResult<Option<u32>> {
        let gg = g.get();
        let text = gg.id.bind(py).to_str()?;
        let groups = &self.groups;
        Ok(self.ids.get(text, gg.hash, |s| {
            groups
                .get(s)
                .is_some_and(|x| x.is(g) || x.get().has_id(py, text))
        }))
    }

    fn int_of(&mut self, py: Python<'_>, g: &Bound<'_, PyGroup>) -> PyResult<u32> {
        if let Some(i) = self.find(py, g)? {
            return Ok(i);
        }
        let i = self.next;
        self.next = i
            .checked_add(1)
            .ok_or_else(|| pyo3::exceptions::PyOverflowError::new_err("group ints exhausted"))?;
        let text = g.get().id_string(py)?;
        self.ids.insert(&text, g.get().hash, i);
        self.groups.insert(i, g.clone().unbind());
        Ok(i)
    }
}

/// `GroupInts`' table (see [`IntsState`]).
#[pyclass(name = "GroupIntTable", module = "kapfast._native", frozen)]
pub struct PyGroupIntTable {
    st: Mutex<IntsState>,
}

impl PyGroupIntTable {
    fn lock(&self) -> MutexGuard<'_, IntsState> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[pymethods]
impl PyGroupIntTable {
    #[new]
    fn new() -> Self {
        PyGroupIntTable {
            st: Mutex::new(IntsState::default()),
        }
    }

    /// The int of `group` (a new one when not in the table).
    fn int_of(&self, py: Python<'_>, group: &Bound<'_, PyGroup>) -> PyResult<u32> {
        self.lock().int_of(py, group)
    }

    /// The int of each row of `chunk` (row `i` is of `chunk.groups[codes[i]]`) as `Codes`,
    /// ready for the node's kernels; the chunk's new groups get theirs.
    fn codes(&self, py: Python<'_>, chunk: &Bound<'_, PyStreamChunk>) -> PyResult<PyCodes> {
        let c = chunk.get();
        let table: Vec<u32> = {
            let mut st = self.lock();
            let mut table = Vec::new();
            for g in c.groups(py).iter() {
                table.push(st.int_of(py, as_group(&g)?)?);
            }
            table
        };
        // every code is below the chunk's group count (checked when the chunk was made)
        let codes = c.codes().clone();
        let ints = detached(py, move || {
            codes.iter().map(|&k| table[k as usize]).collect()
        })?;
        Ok(PyCodes::new(Arc::new(ints)))
    }

    /// The int of the group of id `group_id`, None when not in the table.
    fn get_id(&self, py: Python<'_>, group_id: &str) -> Option<u32> {
        let st = self.lock();
        let groups = &st.groups;
        st.ids.get(group_id, id_hash(group_id), |s| {
            groups.get(s).is_some_and(|x| x.get().has_id(py, group_id))
        })
    }

    /// Forget the group of id `group_id`: its int (never given again), None when not in the
    /// table.
    fn forget(&self, py: Python<'_>, group_id: &str) -> Option<u32> {
        let i = self.get_id(py, group_id)?;
        let mut st = self.lock();
        st.groups.remove(i);
        st.ids.remove(group_id, id_hash(group_id), i);
        Some(i)
    }

    /// The group of int `i`, None when not in the table.
    #[pyo3(signature = (i, default = None))]
    fn get(&self, py: Python<'_>, i: u32, default: Option<Py<PyGroup>>) -> Option<Py<PyGroup>> {
        self.lock()
            .groups
            .get(i)
            .map(|g| g.clone_ref(py))
            .or(default)
    }

    fn __getitem__(&self, py: Python<'_>, i: u32) -> PyResult<Py<PyGroup>> {
        self.lock()
            .groups
            .get(i)
            .map(|g| g.clone_ref(py))
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(i))
    }

    fn __contains__(&self, i: u32) -> bool {
        self.lock().groups.contains_key(i)
    }

    fn __len__(&self) -> usize {
        self.lock().groups.len()
    }

    /// `(int, group)` of every group, by int.
    fn items(&self, py: Python<'_>) -> Vec<(u32, Py<PyGroup>)> {
        let st = self.lock();
        let mut out: Vec<(u32, Py<PyGroup>)> = st
            .groups
            .iter()
            .map(|(i, g)| (i, g.clone_ref(py)))
            .collect();
        out.sort_by_key(|(i, _)| *i);
        out
    }

    /// The int the next new group gets.
    #[getter]
    fn next(&self) -> u32 {
        self.lock().next
    }

    /// Replace the table with `groups` (`(int, group)`, a checkpoint's), the next new group
    /// getting `next`.
    fn load(
        &self,
        py: Python<'_>,
        next: u32,
        groups: Vec<(u32, Bound<'_, PyGroup>)>,
    ) -> PyResult<()> {
        let mut st = IntsState {
            next,
            ..IntsState::default()
        };
        for (i, g) in groups {
            let text = g.get().id_string(py)?;
            st.ids.insert(&text, g.get().hash, i);
            st.groups.insert(i, g.unbind());
        }
        *self.lock() = st;
        Ok(())
    }
}
