"""Child processes that never outlive their parent."""

from __future__ import annotations

import ctypes
import signal

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn for subprocess.Popen (Linux): the kernel sends the child
    SIGTERM when the process that started it dies, even by SIGKILL, so no
    redis-server, daphne or worker is left behind."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:  # not Linux / no glibc: best effort
        pass
