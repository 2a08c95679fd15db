"""Training runs started from the dashboard: settings checks and a background job.

The job runs the same ``train_and_save`` pipeline as the CLI in a thread; the
page polls ``snapshot()`` and a Stop button sets an event that the training
loop's callback returns, which ends training cleanly and saves the best epoch
so far (atomically, so no half-written model ever appears in the model list).
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from .archs import NAMES
from .experiment import train_and_save
from .train import TrainConfig, TrainEvent

SHIPPED = NAMES  # the shipped models' folders are named after their architectures
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
LIMITS = {  # setting: (lowest, highest)
    "limit": (100, 25_000),
    "epochs": (1, 20),
    "batch_size": (8, 512),
    "lr": (1e-5, 0.1),
    "hidden": (2, 256),
    "embed_dim": (8, 300),
    "vocab_size": (100, 20_000),
    "maxlen": (10, 1_000),
}
BUDGET = 200_000  # training reviews × epochs: about 10 minutes on a 2-core CPU


def check_request(cfg: TrainConfig, name: str, models_root: Path, overwrite: bool = False) -> list[str]:
    """Reasons to refuse a training request (empty when it is fine)."""
    problems = []
    if not isinstance(name, str) or not NAME.fullmatch(name):
        problems.append("The model name must be 1–40 characters: lower-case letters, digits, '-' or '_', "
                        "starting with a letter or digit.")
    elif name in SHIPPED:
        problems.append(f"'{name}' is a shipped model; pick another name so it stays as shipped.")
    elif (Path(models_root) / name).exists() and not overwrite:
        problems.append(f"A model named '{name}' already exists; pick another name or allow replacing it.")
    for key, (lo, hi) in LIMITS.items():
        value = getattr(cfg, key)
        if value is None or not lo <= value <= hi:
            problems.append(f"{key.replace('_', ' ')} must be between {lo:g} and {hi:g} (got {value}).")
    if cfg.limit and cfg.epochs and cfg.limit * cfg.epochs > BUDGET:
        problems.append(f"{cfg.limit:,} reviews × {cfg.epochs} epochs is more than this page runs "
                        f"({BUDGET:,}); use the command line for long runs: python -m gru_core train ...")
    return problems


@dataclass
class Progress:
    """What the page shows while a run goes on."""

    status: str = "starting"  # starting, running, stopping, done, stopped, failed
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    elapsed: float = 0.0
    eta: float | None = None
    points: list[dict] = field(default_factory=list)  # loss/accuracy every few steps
    history: list[dict] = field(default_factory=list)
    error: str | None = None
    folder: str | None = None
    metrics: dict | None = None


class TrainJob:
    """One background training run."""

    def __init__(self, cfg: TrainConfig, out: Path, data_path: str | None = None, rt_path: str | None = None,
                 evaluate_test: bool = True, every: int = 5):
        self.cfg, self.out = cfg, Path(out)
        self.data_path, self.rt_path, self.evaluate_test, self.every = data_path, rt_path, evaluate_test, every
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._progress = Progress()
        self._thread = threading.Thread(target=self._run, name=f"train-{self.out.name}", daemon=True)

    def start(self) -> TrainJob:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            if self._progress.status in ("starting", "running"):
                self._progress.status = "stopping"

    @property
    def finished(self) -> bool:
        return self._progress.status in ("done", "stopped", "failed")

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return self.finished

    def snapshot(self) -> Progress:
        with self._lock:
            p = self._progress
            return replace(p, points=list(p.points), history=list(p.history))

    def _callback(self, ev: TrainEvent) -> bool:
        with self._lock:
            p = self._progress
            if p.status == "starting":
                p.status = "running"
            p.total_steps = ev.steps_per_epoch * self.cfg.epochs
            p.step = (ev.epoch - 1) * ev.steps_per_epoch + ev.step
            p.epoch = ev.epoch
            p.elapsed = ev.elapsed
            p.eta = ev.elapsed / p.step * (p.total_steps - p.step) if p.step else None
            p.history = list(ev.history)
            if ev.kind == "step" and (ev.step % self.every == 0 or ev.step == ev.steps_per_epoch):
                p.points.append({"step": p.step, "epoch": ev.epoch, "loss": ev.loss, "accuracy": ev.acc})
        return self._stop.is_set()

    def _run(self) -> None:
        t0 = time.perf_counter()
        try:
            folder, metrics = train_and_save(
                self.cfg, self.out, self.data_path, self.rt_path,
                command=f"dashboard Train page: {self.cfg}", callback=self._callback,
                evaluate_test=self.evaluate_test)
        except Exception as e:  # noqa: BLE001 -- the page shows any failure; the thread must not die silently
            with self._lock:
                self._progress.status = "failed"
                self._progress.error = f"{type(e).__name__}: {e}"
            return
        with self._lock:
            p = self._progress
            p.status = "stopped" if self._stop.is_set() else "done"
            p.folder, p.metrics = str(folder), metrics
            p.elapsed = time.perf_counter() - t0
            p.eta = 0.0
