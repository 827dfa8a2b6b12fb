//! The extension's global allocator: the system allocator, with large blocks on transparent
//! huge pages (as numpy does for its arrays).
//!
//! A 1 M-row batch holds 8 MB per float column. Scanned cold with 4 KiB pages, every 4 KiB of a
//! column costs a TLB miss whose page walk itself misses the cache: a lambda comparison over such
//! a column ran at half the speed of numpy's over an array numpy had put on huge pages. glibc
//! serves large blocks from its heap once its mmap threshold has risen, on pages touched before
//! (which stay small whatever one advises), so blocks of at least [`HUGE_MIN`] bytes are mapped
//! here: 2 MiB-aligned, `madvise(MADV_HUGEPAGE)` before their first touch. A few freed blocks
//! are kept for reuse (at most [`CACHE_BYTES`]) so that a large temporary allocated per call
//! (a result column) is not faulted and zeroed afresh each time. Where THP is off the kernel
//! backs the same mappings with ordinary pages; on other systems this is the system allocator.

use std::alloc::{GlobalAlloc, Layout, System};

/// Blocks from this size up are mapped on huge pages (numpy's threshold: 4 MiB).
pub const HUGE_MIN: usize = 4 << 20;

/// Freed large blocks kept for reuse, in bytes at most.
pub const CACHE_BYTES: usize = 32 << 20;

/// [`System`], with large blocks on huge pages.
pub struct HugePageAlloc;

#[cfg(target_os = "linux")]
mod huge {
    use std::sync::Mutex;

    const PAGE: usize = 2 << 20;
    const SLOTS: usize = 4;

    /// Freed blocks: (address, mapped length); 0 = empty slot. No allocation inside.
    static CACHE: Mutex<[(usize, usize); SLOTS]> = Mutex::new([(0, 0); SLOTS]);

    /// The mapped length of a block of `size` bytes.
    pub fn mapped(size: usize) -> usize {
        size.next_multiple_of(PAGE)
    }

    pub fn usable(size: usize, align: usize) -> bool {
        size >= super::HUGE_MIN && align <= PAGE
    }

    /// A block of `mapped(size)` bytes, 2 MiB-aligned; `zeroed` when it must read as zeros.
    pub fn alloc(size: usize, zeroed: bool) -> *mut u8 {
        let len = mapped(size);
        {
            let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(i) = cache.iter().position(|s| s.0 != 0 && s.1 == len) {
                let p = cache[i].0 as *mut u8;
                cache.copy_within(i + 1.., i);
                cache[SLOTS - 1] = (0, 0);
                drop(cache);
                if zeroed {
                    // SAFETY: the cached block is a live mapping of `len >= size` bytes.
                    unsafe { std::ptr::write_bytes(p, 0, size) };
                }
                return p;
            }
        }
        // Map one huge page more than needed, then unmap the unaligned head and tail.
        let over = len + PAGE;
        // SAFETY: an anonymous private mapping at an address of the kernel's choosing.
        let raw = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                over,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if raw == libc::MAP_FAILED {
            return std::ptr::null_mut();
        }
        let start = raw as usize;
        let aligned = start.next_multiple_of(PAGE);
        // SAFETY: both ranges lie inside the mapping just made and outside `aligned..+len`;
        // MADV_HUGEPAGE only changes how untouched pages will be backed (advice: its failure,
        // THP not built in, leaves ordinary pages).
        unsafe {
            if aligned > start {
                libc::munmap(raw, aligned - start);
            }
            let tail = start + over - (aligned + len);
            if tail > 0 {
                libc::munmap((aligned + len) as *mut libc::c_void, tail);
            }
            libc::madvise(aligned as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
        }
        aligned as *mut u8
    }

    /// Returns a block from [`alloc`] of `size` bytes: kept for reuse, the oldest kept blocks
    /// unmapped to make room (sizes in use change, and the block just freed is the likeliest to
    /// be asked for again).
    pub fn free(p: *mut u8, size: usize) {
        let len = mapped(size);
        let mut unmap = [(0usize, 0usize); SLOTS + 1];
        if len <= super::CACHE_BYTES {
            let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
            let mut k = 0;
            // slots are kept oldest first, empty ones last
            while cache.iter().filter(|s| s.0 != 0).count() == SLOTS
                || cache.iter().map(|s| s.1).sum::<usize>() + len > super::CACHE_BYTES
            {
                unmap[k] = cache[0];
                k += 1;
                cache.copy_within(1.., 0);
                cache[SLOTS - 1] = (0, 0);
            }
            if let Some(slot) = cache.iter_mut().find(|s| s.0 == 0) {
                *slot = (p as usize, len);
            }
        } else {
            unmap[0] = (p as usize, len);
        }
        for (a, l) in unmap {
            if a != 0 {
                // SAFETY: `a..a+l` is exactly a mapping made by `alloc`, no longer referenced.
                unsafe { libc::munmap(a as *mut libc::c_void, l) };
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod huge {
    pub fn usable(_size: usize, _align: usize) -> bool {
        false
    }
    pub fn mapped(size: usize) -> usize {
        size
    }
    pub fn alloc(_size: usize, _zeroed: bool) -> *mut u8 {
        std::ptr::null_mut()
    }
    pub fn free(_p: *mut u8, _size: usize) {}
}

// SAFETY: small blocks are the system allocator's; a large block (decided by its layout alone,
// which `dealloc` and `realloc` receive unchanged) is a mapping of at least its size, aligned to
// 2 MiB, so to any alignment `usable` accepts.
unsafe impl GlobalAlloc for HugePageAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if huge::usable(layout.size(), layout.align()) {
            return huge::alloc(layout.size(), false);
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if huge::usable(layout.size(), layout.align()) {
            return huge::alloc(layout.size(), true);
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if huge::usable(layout.size(), layout.align()) {
            return huge::free(ptr, layout.size());
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let (align, old_size) = (layout.align(), layout.size());
        let (was, will) = (huge::usable(old_size, align), huge::usable(new_size, align));
        if !was && !will {
            // SAFETY: forwarded with the caller's guarantees.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        if was && will && huge::mapped(old_size) == huge::mapped(new_size) {
            return ptr; // the mapping already has room
        }
        // SAFETY: `new_size` is non-zero and does not overflow isize once rounded up to `align`
        // (the caller's guarantees for `realloc`).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, align) };
        // SAFETY: a non-zero size with a valid alignment.
        let p = unsafe { self.alloc(new_layout) };
        if !p.is_null() {
            // SAFETY: both blocks are live and distinct, the copy fits in both, and the old
            // block is freed with the layout it was allocated with.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, p, old_size.min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_across_the_threshold_keep_their_data() {
        // (the allocator is the crate's global one, so every test exercises it; this one grows
        // a vector across the threshold, shrinks it back under, and reuses freed large blocks)
        for _ in 0..3 {
            let mut v: Vec<u64> = Vec::with_capacity(16);
            for i in 0..(HUGE_MIN / 8 * 3) as u64 {
                v.push(i);
            }
            assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64));
            assert_eq!(v.as_ptr() as usize % 8, 0);
            v.truncate(10);
            v.shrink_to_fit();
            assert_eq!(v, (0..10).collect::<Vec<u64>>());
        }
        for _ in 0..3 {
            let mut z = vec![0u8; HUGE_MIN * 2];
            assert!(z.iter().all(|&b| b == 0));
            z.fill(7); // freed dirty: the next zeroed block must still read as zeros
        }
    }
}
