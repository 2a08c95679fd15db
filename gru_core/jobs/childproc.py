"""Settings a training process started by the dashboard applies to itself: a lower priority, few
torch threads (so exploration stays responsive), and death with the server that started it."""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

import torch

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def lower_priority(nice: int, threads: int | None) -> None:
    """Raise the niceness by ``nice`` and bound torch to ``threads`` intra-op threads."""
    if nice > 0:
        os.nice(nice)
    if threads:
        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(threads)
        except RuntimeError:  # only settable before the first parallel work; intra-op is what matters
            pass


def die_with_parent(parent_pid: int) -> None:
    """End this process when ``parent_pid`` (the server) ends, however it ends.

    Linux: the kernel sends SIGKILL when the parent thread that started us exits
    (the server starts each run from a thread that lives as long as the run).
    Elsewhere a watcher thread polls the parent's id.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    else:
        def watch() -> None:
            while os.getppid() == parent_pid:
                time.sleep(1.0)
            os._exit(1)

        threading.Thread(target=watch, daemon=True).start()
    if os.getppid() != parent_pid:  # the parent ended before the signal was armed
        print(f"error: the process that started this run ({parent_pid}) has ended", file=sys.stderr, flush=True)
        os._exit(1)
