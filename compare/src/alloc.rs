//! Heap accounting by pipeline: a global allocator that counts the bytes each thread's
//! *owner* holds.
//!
//! Both pipelines run in one process (they share the embedded log, which one process
//! owns), so the process's resident memory cannot be split between them. What can be
//! split is the heap: every allocation is charged to the [`Owner`] of the thread that
//! made it, in a 16-byte header in front of the block, and credited back to the same
//! owner when freed, whichever thread frees it. The peak of each owner's live bytes is
//! its peak heap.
//!
//! A binary opts in with
//! ```ignore
//! #[global_allocator]
//! static ALLOC: compare::alloc::CountingAlloc = compare::alloc::CountingAlloc;
//! ```
//! and counts only in a process started with the environment variable [`ENV`] set (read
//! once, at the process's first allocation, so that every block of the process has the
//! same layout); any other process of the binary allocates straight from the system
//! allocator, at the cost of one atomic load and a branch per call. `lk compare`
//! starts itself again with [`ENV`] set ([`reexec_with_accounting`]); no other `lk`
//! command counts. Threads say who they work for with [`set_thread_owner`]. A thread that never
//! said is charged to the [`default owner`](set_default_owner): during `lk compare`
//! that is Lambda, because the only threads the harness does not start itself are the
//! thread pools of polars and rayon, which only the batch layer uses while the
//! pipelines run.
//!
//! The cost, when counting: 16 bytes per allocation (more for alignments above 16) and
//! two atomic operations per allocation and free.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};

/// Who a thread's allocations are charged to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Owner {
    /// Not attributed to a pipeline (the harness: feed, observers, oracle; or a thread
    /// outside any run).
    Harness = 1,
    /// The Lambda pipeline's threads.
    Lambda = 2,
    /// The Kappa pipeline's threads.
    Kappa = 3,
}

const OWNERS: usize = 4;
/// "Not set": the thread uses the default owner.
const UNSET: u8 = 0;

/// The environment variable that turns counting on for a process.
pub const ENV: &str = "LK_HEAP_ACCOUNTING";

static INSTALLED: AtomicBool = AtomicBool::new(false);
/// Whether this process counts: decided at its first allocation.
static MODE: AtomicU8 = AtomicU8::new(UNDECIDED);
const UNDECIDED: u8 = 0;
const COUNTING: u8 = 1;
const PLAIN: u8 = 2;
static DEFAULT_OWNER: AtomicU8 = AtomicU8::new(Owner::Harness as u8);
static LIVE: [AtomicI64; OWNERS] = [const { AtomicI64::new(0) }; OWNERS];
static PEAK: [AtomicI64; OWNERS] = [const { AtomicI64::new(0) }; OWNERS];

thread_local! {
    // Const-initialised and without a destructor: usable from inside the allocator, at
    // any point of the thread's life, without allocating.
    static THREAD_OWNER: Cell<u8> = const { Cell::new(UNSET) };
}

/// Charge this thread's allocations from now on to `owner`.
pub fn set_thread_owner(owner: Owner) {
    THREAD_OWNER.with(|o| o.set(owner as u8));
}

/// The owner of threads that never called [`set_thread_owner`].
pub fn set_default_owner(owner: Owner) {
    DEFAULT_OWNER.store(owner as u8, Ordering::Relaxed);
}

/// Whether [`CountingAlloc`] is the global allocator of this process (it has served an
/// allocation).
pub fn installed() -> bool {
    INSTALLED.load(Ordering::Relaxed)
}

/// Bytes `owner` holds now.
pub fn live_bytes(owner: Owner) -> u64 {
    LIVE[owner as usize].load(Ordering::Relaxed).max(0) as u64
}

/// The most bytes `owner` held at once since the last [`reset_peaks`].
pub fn peak_bytes(owner: Owner) -> u64 {
    PEAK[owner as usize].load(Ordering::Relaxed).max(0) as u64
}

/// Start measuring peaks from the current live bytes.
pub fn reset_peaks() {
    for (live, peak) in LIVE.iter().zip(&PEAK) {
        peak.store(live.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}

fn current_owner() -> u8 {
    let o = THREAD_OWNER.try_with(Cell::get).unwrap_or(UNSET);
    if o == UNSET {
        DEFAULT_OWNER.load(Ordering::Relaxed)
    } else {
        o
    }
}

fn charge(owner: u8, bytes: i64) {
    let i = owner as usize % OWNERS;
    let now = LIVE[i].fetch_add(bytes, Ordering::Relaxed) + bytes;
    if bytes > 0 {
        PEAK[i].fetch_max(now, Ordering::Relaxed);
    }
}

/// The header's size for `align`: at least 16 bytes and a multiple of the alignment, so
/// that the block after it stays aligned.
fn header(align: usize) -> usize {
    align.max(16)
}

/// The layout of the whole block (header + the caller's bytes).
fn outer(layout: Layout) -> Option<Layout> {
    let h = header(layout.align());
    Layout::from_size_align(layout.size().checked_add(h)?, h).ok()
}

/// Whether this process counts ([`ENV`] set when it first allocated).
fn counting() -> bool {
    match MODE.load(Ordering::Relaxed) {
        COUNTING => true,
        PLAIN => false,
        _ => {
            // SAFETY: getenv reads the environment without allocating; the name is a
            // NUL-terminated C string. The first allocation happens before `main`, when
            // no other thread can change the environment.
            let on = unsafe { !libc::getenv(c"LK_HEAP_ACCOUNTING".as_ptr()).is_null() };
            MODE.store(if on { COUNTING } else { PLAIN }, Ordering::Relaxed);
            on
        }
    }
}

/// Run this program again, the same arguments and environment plus [`ENV`], in place of
/// this process (same pid, standard streams and exit status), so that it counts. Returns
/// only if that fails, with why; a process that counts already returns at once with
/// `None`.
pub fn reexec_with_accounting() -> Option<std::io::Error> {
    use std::os::unix::process::CommandExt;
    if std::env::var_os(ENV).is_some() {
        return None;
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return Some(e),
    };
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| exe.clone().into_os_string());
    Some(
        std::process::Command::new(exe)
            .arg0(arg0)
            .args(args)
            .env(ENV, "1")
            .exec(),
    )
}

/// The global allocator that charges allocations to owners (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAlloc;

// SAFETY: in a process that does not count, every call goes to `System` unchanged. In
// one that counts (decided once, before any block exists), every block handed out is
// `header` bytes into a block obtained from `System` with the outer layout (size +
// header, alignment = header ≥ the caller's alignment); the owner byte is written in the
// header just before the caller's block, and every free and realloc recomputes the same
// header size from the same caller layout.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        unsafe {
            if counting() {
                counted::alloc(layout)
            } else {
                System.alloc(layout)
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc`/`realloc` of this process, in the same mode.
        unsafe {
            if counting() {
                counted::dealloc(ptr, layout)
            } else {
                System.dealloc(ptr, layout)
            }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as in `dealloc`.
        unsafe {
            if counting() {
                counted::realloc(ptr, layout, new_size)
            } else {
                System.realloc(ptr, layout, new_size)
            }
        }
    }
}

/// The counting allocator's three operations.
mod counted {
    use super::*;

    /// A block for `layout`, with the owner's byte in front of it.
    pub(super) unsafe fn alloc(layout: Layout) -> *mut u8 {
        let Some(outer) = outer(layout) else {
            return std::ptr::null_mut();
        };
        // SAFETY: `outer` has a non-zero size (it includes the header).
        let base = unsafe { System.alloc(outer) };
        if base.is_null() {
            return base;
        }
        INSTALLED.store(true, Ordering::Relaxed);
        let owner = current_owner();
        charge(owner, layout.size() as i64);
        // SAFETY: the header lies inside the block, before the caller's bytes.
        unsafe {
            let user = base.add(header(layout.align()));
            user.sub(1).write(owner);
            user
        }
    }

    /// Free a block of [`alloc`], credited back to its owner.
    pub(super) unsafe fn dealloc(ptr: *mut u8, layout: Layout) {
        let h = header(layout.align());
        // SAFETY: `ptr` came from `alloc`/`realloc` with this layout: the owner byte and
        // the base are where those put them.
        unsafe {
            let owner = ptr.sub(1).read();
            charge(owner, -(layout.size() as i64));
            let outer = Layout::from_size_align_unchecked(layout.size() + h, h);
            System.dealloc(ptr.sub(h), outer);
        }
    }

    /// Resize a block of [`alloc`], keeping its owner.
    pub(super) unsafe fn realloc(ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let h = header(layout.align());
        let Some(new_outer) = new_size.checked_add(h) else {
            return std::ptr::null_mut();
        };
        // SAFETY: as in `dealloc` for the old block; `System.realloc` keeps the header
        // bytes (a prefix of the block) and the alignment of the outer layout.
        unsafe {
            let owner = ptr.sub(1).read();
            let outer = Layout::from_size_align_unchecked(layout.size() + h, h);
            let base = System.realloc(ptr.sub(h), outer, new_outer);
            if base.is_null() {
                return base;
            }
            charge(owner, new_size as i64 - layout.size() as i64);
            base.add(h)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The test binary does not install the allocator; exercise its counting operations
    // directly.
    struct Counted;
    impl Counted {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            unsafe { counted::alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe { counted::dealloc(ptr, layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            unsafe { counted::realloc(ptr, layout, new_size) }
        }
    }

    #[test]
    fn blocks_are_charged_to_their_owner_and_credited_back() {
        let a = Counted;
        set_thread_owner(Owner::Kappa);
        let before = live_bytes(Owner::Kappa);
        for align in [1usize, 8, 16, 64, 4096] {
            let layout = Layout::from_size_align(1000, align).unwrap();
            // SAFETY: a valid non-zero layout; the block is freed with the same layout.
            unsafe {
                let p = a.alloc(layout);
                assert!(!p.is_null());
                assert_eq!(p as usize % align, 0, "aligned to {align}");
                p.write_bytes(0xAB, 1000);
                assert_eq!(live_bytes(Owner::Kappa), before + 1000);
                // Grow on another owner's thread: still the first owner's block.
                set_thread_owner(Owner::Lambda);
                let q = a.realloc(p, layout, 5000);
                assert!(!q.is_null());
                assert_eq!(q as usize % align, 0);
                assert_eq!(*q.add(999), 0xAB, "contents kept");
                assert_eq!(live_bytes(Owner::Kappa), before + 5000);
                a.dealloc(q, Layout::from_size_align(5000, align).unwrap());
                set_thread_owner(Owner::Kappa);
            }
            assert_eq!(live_bytes(Owner::Kappa), before);
        }
        assert!(peak_bytes(Owner::Kappa) >= before + 5000);
        set_thread_owner(Owner::Harness);
    }

    #[test]
    fn a_thread_without_an_owner_is_charged_to_the_default() {
        let layout = Layout::from_size_align(333, 8).unwrap();
        std::thread::spawn(move || {
            let a = Counted;
            // Another test may change the default meanwhile: read the owner the block
            // was charged to from its header instead.
            // SAFETY: as above.
            unsafe {
                let p = a.alloc(layout);
                let owner = p.sub(1).read();
                assert_eq!(owner, DEFAULT_OWNER.load(Ordering::Relaxed));
                set_thread_owner(Owner::Lambda);
                assert_eq!(current_owner(), Owner::Lambda as u8);
                a.dealloc(p, layout);
            }
        })
        .join()
        .unwrap();
    }
}
