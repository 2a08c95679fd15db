"""A computation in a background thread of the server, at a lower priority and on one torch thread, so the
visitors' pages stay responsive while it runs; the pages read its progress and, when it is done, its result.

torch's intra-op thread count is per thread (OpenMP), so ``torch.set_num_threads(1)`` in the job's thread
leaves every other thread's alone; on Linux a thread has its own niceness (``setpriority`` on its thread id).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

import torch

T = TypeVar("T")
NICE = 10


def lower_this_thread(nice: int = NICE) -> None:
    """One torch thread and (Linux) ``nice`` more niceness for the calling thread only."""
    torch.set_num_threads(1)
    if hasattr(os, "setpriority") and hasattr(threading, "get_native_id"):
        try:
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + nice)
        except OSError:  # not allowed here: the job still runs, at the server's priority
            pass


def release_free_memory() -> None:
    """Hand the memory a finished computation freed back to the operating system (glibc keeps freed blocks in its
    arenas, so a server's resident size would otherwise stay at the computation's peak); elsewhere a no-op."""
    name = ctypes.util.find_library("c")
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError, TypeError):  # not glibc
        pass


class BackgroundJob(Generic[T]):
    """``work(progress, stop)`` in a daemon thread, started at once. ``progress(done, total)`` reports how far it
    is; ``stop()`` turns True after ``cancel()``, and ``work`` should then end early (with any exception)."""

    def __init__(self, work: Callable[[Callable[[int, int], None], Callable[[], bool]], T], name: str = "job",
                 nice: int = NICE):
        self.name = name
        self.done, self.total = 0, 0
        self.result: T | None = None
        self.error: str | None = None
        self.started = time.monotonic()
        self.seconds: float | None = None  # how long it took, once it ended
        self._cancel = threading.Event()
        self._finished = threading.Event()

        def run() -> None:
            lower_this_thread(nice)
            try:
                self.result = work(self._progress, self._cancel.is_set)
            except Exception as e:  # noqa: BLE001 -- shown to the visitor as a message, never a traceback
                self.error = "stopped" if self._cancel.is_set() else f"{type(e).__name__}: {e}"
            finally:
                self.seconds = time.monotonic() - self.started
                release_free_memory()
                self._finished.set()

        self._thread = threading.Thread(target=run, name=f"background-{name}", daemon=True)
        self._thread.start()

    def _progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    @property
    def ready(self) -> bool:
        return self.finished and self.error is None

    @property
    def fraction(self) -> float:
        return min(self.done / self.total, 1.0) if self.total else 0.0

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (or ``timeout`` seconds pass); whether it ended."""
        return self._finished.wait(timeout)


class JobShelf(Generic[T]):
    """At most ``size`` jobs by key, for one server process. A new key takes the place of the least recently
    used *finished* job; while every place holds a running job, it waits (``get`` returns None) rather than stop
    one that another visitor is waiting for. A failed job is replaced on its next request."""

    def __init__(self, size: int):
        if size < 1:
            raise ValueError("a shelf holds at least one job")
        self.size = size
        self._jobs: dict[object, BackgroundJob[T]] = {}  # insertion order = least recently used first
        self._lock = threading.Lock()

    def get(self, key: object, start: Callable[[], BackgroundJob[T]]) -> BackgroundJob[T] | None:
        with self._lock:
            job = self._jobs.pop(key, None)
            if job is not None and job.finished and job.error is not None:
                job = None  # failed (or stopped): try again
            if job is None:
                while len(self._jobs) >= self.size:
                    old = next((k for k, j in self._jobs.items() if j.finished), None)
                    if old is None:
                        return None  # every place is building for someone
                    del self._jobs[old]
                job = start()
            self._jobs[key] = job  # now the most recently used
            return job

    def running(self) -> list[str]:
        with self._lock:
            return [j.name for j in self._jobs.values() if not j.finished]

    def wait(self, timeout: float = 300) -> bool:
        """Block until every job on the shelf has ended (or ``timeout`` seconds pass); whether they all did."""
        with self._lock:
            jobs = list(self._jobs.values())
        return all(j.wait(timeout) for j in jobs)

    def clear(self) -> None:
        """Stop every running job and forget them all (tests; a server exit ends the daemon threads anyway)."""
        with self._lock:
            jobs, self._jobs = list(self._jobs.values()), {}
        for j in jobs:
            j.cancel()
        for j in jobs:
            j.wait(60)
