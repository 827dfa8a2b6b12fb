//! The buffer protocol's read-only, one-dimensional views, filled in one place for every Rust
//! object numpy and `memoryview` read in place (`ColumnView`, lambda results, a chunk's `Codes`).

use std::ffi::CStr;
use std::os::raw::{c_int, c_void};

use pyo3::exceptions::PyBufferError;
use pyo3::ffi;
use pyo3::prelude::*;

/// The memory a view shows: `items` of `itemsize` bytes at `ptr`, in struct format `format`.
/// `shape` and `strides` point at one `Py_ssize_t` each (the item count and the item size)
/// stored in the object that owns the memory, so they live as long as the view does.
pub struct ReadOnly {
    pub ptr: *const u8,
    pub items: usize,
    pub itemsize: usize,
    pub format: &'static CStr,
    pub shape: *const ffi::Py_ssize_t,
    pub strides: *const ffi::Py_ssize_t,
}

impl ReadOnly {
    /// From `(pointer, items, item size, format)` as the column objects describe themselves.
    pub fn of(
        (ptr, items, itemsize, format): (*const u8, usize, usize, &'static CStr),
        shape: *const ffi::Py_ssize_t,
        strides: *const ffi::Py_ssize_t,
    ) -> Self {
        ReadOnly {
            ptr,
            items,
            itemsize,
            format,
            shape,
            strides,
        }
    }
}

/// Fill `view` for `owner` (which keeps the memory alive and is referenced by the view); a
/// writable view is refused with `what` named.
///
/// # Safety
/// `view` comes from CPython's `__getbuffer__` call; `mem` describes memory and layout owned by
/// `owner`, immutable while `owner` lives. An empty Vec's dangling pointer is never read.
pub unsafe fn fill_read_only(
    owner: Bound<'_, PyAny>,
    view: *mut ffi::Py_buffer,
    flags: c_int,
    mem: ReadOnly,
    what: &str,
) -> PyResult<()> {
    if view.is_null() {
        return Err(PyBufferError::new_err("view is null"));
    }
    if (flags & ffi::PyBUF_WRITABLE) == ffi::PyBUF_WRITABLE {
        return Err(PyBufferError::new_err(format!("{what} is read-only")));
    }
    let want = |flag: c_int| (flags & flag) == flag;
    // SAFETY: `view` is non-null and CPython hands us memory to fill.
    unsafe {
        (*view).buf = mem.ptr as *mut c_void;
        (*view).len = (mem.items * mem.itemsize) as ffi::Py_ssize_t;
        (*view).readonly = 1;
        (*view).itemsize = mem.itemsize as ffi::Py_ssize_t;
        (*view).format = if want(ffi::PyBUF_FORMAT) {
            mem.format.as_ptr() as *mut _
        } else {
            std::ptr::null_mut()
        };
        (*view).ndim = 1;
        (*view).shape = if want(ffi::PyBUF_ND) {
            mem.shape as *mut _
        } else {
            std::ptr::null_mut()
        };
        (*view).strides = if want(ffi::PyBUF_STRIDES) {
            mem.strides as *mut _
        } else {
            std::ptr::null_mut()
        };
        (*view).suboffsets = std::ptr::null_mut();
        (*view).internal = std::ptr::null_mut();
        (*view).obj = owner.into_ptr();
    }
    Ok(())
}
