"""Keep freed memory in the process instead of handing it back to the kernel after every large array.

glibc's malloc serves a block above its mmap threshold (128 KiB at first, then the size of the largest
block freed so far) with a fresh ``mmap`` and returns it with ``munmap`` when freed, and trims the top of
the heap whenever more than twice that threshold is free. Every large temporary array (numpy's, and
pyarrow's, whose default mimalloc/jemalloc pool also decays freed pages back to the kernel) therefore
costs a page fault per 4 KiB each time it is allocated: ``regsuite results`` over the 100,000-run
benchmark store (80,000-pair arrays per task) took about 96,000 page faults, and 0.4-0.8 s of system CPU
time, against 31,000 with the thresholds below. The process is short-lived and its peak is what it is;
keeping the freed memory for the next array costs nothing else.

:func:`keep_freed_memory` raises both thresholds with ``mallopt`` (glibc only; elsewhere it does nothing)
and, when pyarrow is imported by then, switches its default pool to the system allocator, which the
raised thresholds govern.
"""

from __future__ import annotations

import sys

_M_TRIM_THRESHOLD = -1  # glibc's <malloc.h>
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 32 << 20  # glibc's largest accepted value on 64-bit (HEAP_MAX_SIZE / 2)
_TRIM_THRESHOLD = 1 << 30

_done = False


def keep_freed_memory() -> bool:
    """Raise glibc's trim and mmap thresholds (once per process); True when they were set."""
    global _done
    if _done or not sys.platform.startswith("linux"):
        return _done
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _done = bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)) and bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD))
    return _done


def use_system_arrow_pool() -> None:
    """pyarrow's default pool to the system allocator (whose freed memory the thresholds above keep)."""
    import pyarrow

    if pyarrow.default_memory_pool().backend_name != "system":
        pyarrow.set_memory_pool(pyarrow.system_memory_pool())
