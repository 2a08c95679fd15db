"""The progress file of a training run: JSON lines the training process appends, the dashboard reads.

One event per line, each written with a single ``write`` on a file opened for
appending, so a reader sees whole lines or nothing of a line; the reader keeps
an incomplete last line until its end arrives. Events:

- ``{"event": "phase", "phase": "preparing data" | "training" | "evaluating" | "saving"}``
- ``{"event": "step", "epoch", "step", "steps_per_epoch", "loss", "acc", "elapsed"}``
- ``{"event": "epoch", "history": [...]}`` (the whole per-epoch history so far)
- ``{"event": "end", "status": "done" | "stopped", "folder": str | None, "metrics": dict | None, "message"}``

A run that ends without an ``end`` event failed (its output says why).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..train import TrainEvent


class ProgressWriter:
    """Appends a run's events to ``path``; a step is written every ``every`` steps and at each epoch's end."""

    def __init__(self, path: str | os.PathLike, every: int = 5):
        self.path, self.every = Path(path), max(1, every)

    def _write(self, event: dict) -> None:
        line = (json.dumps(event) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def phase(self, name: str) -> None:
        self._write({"event": "phase", "phase": name})

    def __call__(self, ev: TrainEvent) -> None:
        if ev.kind == "epoch":
            self._write({"event": "epoch", "history": ev.history})
        elif ev.step % self.every == 0 or ev.step == ev.steps_per_epoch:
            self._write({"event": "step", "epoch": ev.epoch, "step": ev.step, "steps_per_epoch": ev.steps_per_epoch,
                         "loss": ev.loss, "acc": ev.acc, "elapsed": ev.elapsed})

    def end(self, status: str, folder: str | None = None, metrics: dict | None = None, message: str = "") -> None:
        self._write({"event": "end", "status": status, "folder": folder, "metrics": metrics, "message": message})


class ProgressReader:
    """Reads the events appended to ``path`` since the last call."""

    def __init__(self, path: str | os.PathLike):
        self.path, self._offset, self._partial = Path(path), 0, b""

    def new_events(self) -> list[dict]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]
