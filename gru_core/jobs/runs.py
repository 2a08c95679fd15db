"""Training runs started from the dashboard: settings checks and one registry of runs.

Each run is ``python -m gru_core train`` (the CLI's own pipeline) in a child
process at a lower priority with few torch threads, so exploring stays
responsive while it trains. Progress and the epoch history come back over a
progress file (``progress.py``); Stop creates a flag file the child checks
during data preparation, at every training step and during the final
evaluation. The registry claims a slot under one lock (at most ``max_runs()``
at once) and lets only the session that started a run stop or clear it. The
child saves atomically and never replaces a model that appeared meanwhile
(unless replacing was asked for); it dies with the server (``childproc.py``),
and the server kills and reaps its children when it exits.
"""
from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..archs import NAMES
from ..checkpoint import local_models_dir, models_dir
from ..i18n import N_, _, ngettext
from ..train import TrainConfig
from .progress import ProgressReader

ROOT = Path(__file__).resolve().parents[2]  # the repository (gru_core/jobs/runs.py)
ENV_READ_ONLY = "GRU_EXPLORER_READ_ONLY"
ENV_MAX_RUNS = "GRU_EXPLORER_MAX_RUNS"
ENV_THREADS = "GRU_EXPLORER_TRAIN_THREADS"
NICE = 10  # the child's niceness: the server's page runs come first
TAIL_LINES = 12  # of a failed run's output, shown on the page

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
SETTING_NAMES = {"limit": N_("Training reviews"), "epochs": N_("Epochs"), "batch_size": N_("Batch size"),
                 "lr": N_("Learning rate"), "hidden": N_("Hidden units"), "embed_dim": N_("Embedding size"),
                 "vocab_size": N_("Vocabulary size"),
                 "maxlen": N_("Max words per review (the last ones)")}  # LIMITS' settings, named as the Train page does


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a positive whole number, not {value!r}")
    return int(value)


def read_only() -> bool:
    """Whether training from the dashboard is switched off on this server (``GRU_EXPLORER_READ_ONLY=1``)."""
    return os.environ.get(ENV_READ_ONLY, "").strip().lower() in ("1", "true", "yes", "on")


def max_runs() -> int:
    """Runs that may train at once: ``$GRU_EXPLORER_MAX_RUNS``, else one per two cores (1 on 2 cores)."""
    return _env_int(ENV_MAX_RUNS, max(1, (os.cpu_count() or 2) // 2))


def train_threads() -> int:
    """Torch threads of each run: ``$GRU_EXPLORER_TRAIN_THREADS``, else half the cores (1 on 2 cores)."""
    return _env_int(ENV_THREADS, max(1, (os.cpu_count() or 2) // 2))


def check_request(cfg: TrainConfig, name: str, models_root: Path, overwrite: bool = False,
                  shipped_root: Path | None = None) -> list[str]:
    """Reasons to refuse a training request into ``models_root`` (empty when it is fine).

    ``shipped_root``: the shipped models' folder, whose names are refused too (never shadowed).
    """
    problems = []
    if not isinstance(name, str) or not NAME.fullmatch(name):
        problems.append(_("The model name must be 1–40 characters: lower-case letters, digits, '-' or '_', "
                          "starting with a letter or digit."))
    elif name in SHIPPED or (shipped_root is not None and (Path(shipped_root) / name).exists()):
        problems.append(_("'{name}' is a shipped model; pick another name so it stays as shipped.").format(name=name))
    elif (Path(models_root) / name).exists() and not overwrite:
        problems.append(_("A model named '{name}' already exists; pick another name or allow replacing it.").format(
            name=name))
    for key, (lo, hi) in LIMITS.items():
        value = getattr(cfg, key)
        if value is None or not lo <= value <= hi:
            problems.append(_("{setting} must be between {lo:g} and {hi:g} (got {value}).").format(
                setting=_(SETTING_NAMES[key]), lo=lo, hi=hi, value=value))
    if cfg.limit and cfg.epochs and cfg.limit * cfg.epochs > BUDGET:
        problems.append(_("{reviews:,} reviews × {epochs} epochs is more than this page runs ({budget:,}); use the "
                          "command line for long runs: {command}").format(
            reviews=cfg.limit, epochs=cfg.epochs, budget=BUDGET, command="python -m gru_core train ..."))
    return problems


def train_args(cfg: TrainConfig, out: str | os.PathLike, evaluate_test: bool = True) -> list[str]:
    """The ``python -m gru_core`` arguments that train exactly ``cfg`` into ``out``."""
    d = TrainConfig()
    args = ["train", "--arch", cfg.arch, "--out", str(out)]
    for key in ("epochs", "batch_size", "lr", "seed", "maxlen", "vocab_size", "embed_dim", "hidden",
                "embed_dropout", "dropout", "weight_decay", "clip", "warmup_steps", "val_fraction", "limit",
                "device"):
        value = getattr(cfg, key)
        if value is not None and (value != getattr(d, key) or key in ("epochs", "limit")):
            args += [f"--{key.replace('_', '-')}", repr(value) if isinstance(value, float) else str(value)]
    return args + ([] if evaluate_test else ["--no-test"])


@dataclass
class Progress:
    """What the page shows of a run."""

    status: str = "starting"  # starting, running, stopping, done, stopped, failed
    phase: str = "starting"  # preparing data, training, evaluating, saving
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    elapsed: float = 0.0
    eta: float | None = None
    points: list[dict] = field(default_factory=list)  # loss/accuracy every few steps
    history: list[dict] = field(default_factory=list)
    error: str | None = None  # why it failed (in English: see exit_message)
    exit_code: int | None = None  # the failed process's exit status (negative: the signal that killed it)
    output: str = ""  # the last lines the process printed, when it failed
    message: str = ""  # e.g. why a stopped run saved nothing (an English msgid of train.py: show it with _())
    folder: str | None = None
    metrics: dict | None = None


STATUSES = {"starting": N_("starting"), "running": N_("running"), "stopping": N_("stopping"), "done": N_("done"),
            "stopped": N_("stopped"), "failed": N_("failed")}  # Progress.status, as the page shows it
PHASES = {"starting": N_("starting"), "preparing data": N_("preparing data"), "training": N_("training"),
          "evaluating": N_("evaluating"), "saving": N_("saving")}  # Progress.phase, as the page shows it
NO_OUTPUT = N_("(no output)")


def exit_message(code: int) -> str:
    """Why a run's process ended without a result, in the current language: the page calls it again with
    ``Progress.exit_code``, since the server thread that saw the exit speaks English."""
    if code < 0:
        try:
            sig = signal.Signals(-code).name
        except ValueError:
            sig = str(-code)
        return _("The training process was killed by signal {signal}.").format(signal=sig)
    if code:
        return _("The training process exited with status {code}.").format(code=code)
    return _("The training process ended without reporting a result.")


class Run:
    """One training run in a child process, owned by the browser session that started it."""

    def __init__(self, owner: str, name: str, cfg: TrainConfig, out: Path, evaluate_test: bool):
        self.id, self.owner, self.name, self.cfg, self.out = uuid.uuid4().hex, owner, name, cfg, Path(out)
        self.evaluate_test = evaluate_test
        self.dir = Path(tempfile.mkdtemp(prefix="gru-explorer-run-"))  # progress, output, stop flag
        self.process: subprocess.Popen | None = None
        self._reader = ProgressReader(self.dir / "progress.jsonl")
        self._lock = threading.Lock()
        self._progress = Progress()
        self._ended = threading.Event()
        self._reported_end = False  # the child's end event came (a run that ends without one failed)
        self._started = time.monotonic()

    # --- the child -------------------------------------------------------------------------------
    def launch(self, data_path: str | None, threads: int, nice: int, replace_existing: bool) -> None:
        """Start the child from a thread that lives as long as the child (its death signal follows
        that thread) and reaps it; return once it started, or raise why it could not."""
        argv = [sys.executable, "-m", "gru_core", *train_args(self.cfg, self.out, self.evaluate_test),
                "--progress", str(self.dir / "progress.jsonl"), "--stop-file", str(self.dir / "stop"),
                "--threads", str(threads), "--nice", str(nice), "--parent-pid", str(os.getpid())]
        if data_path:
            argv += ["--data", str(data_path)]
        if not replace_existing:
            argv.append("--no-replace")
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               "PYTHONUNBUFFERED": "1"}
        started, failure = threading.Event(), []

        def supervise() -> None:
            try:
                with open(self.dir / "output.log", "wb") as log:
                    self.process = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                                    stderr=subprocess.STDOUT, start_new_session=True)
            except OSError as e:
                failure.append(e)
                started.set()
                return
            started.set()
            code = self.process.wait()  # reaps it: no zombie
            self._finish(code)

        threading.Thread(target=supervise, name=f"run-{self.name}", daemon=True).start()
        started.wait()
        if failure:
            raise failure[0]

    def _finish(self, code: int) -> None:
        with self._lock:
            self._apply(self._reader.new_events())
            p = self._progress
            if not self._reported_end or code != 0:
                p.status = "failed"
                p.error, p.exit_code, p.output = exit_message(code), code, self.output_tail()
            p.elapsed, p.eta = time.monotonic() - self._started, 0.0
        self._ended.set()

    def _apply(self, events: list[dict]) -> None:
        """Fold events into the progress."""
        p = self._progress
        for ev in events:
            kind = ev.get("event")
            if kind == "phase":
                p.phase = ev["phase"]
                if p.status == "starting":
                    p.status = "running"
            elif kind == "step":
                spe = ev["steps_per_epoch"]
                p.epoch, p.step, p.total_steps = ev["epoch"], (ev["epoch"] - 1) * spe + ev["step"], spe * self.cfg.epochs
                rate = ev["elapsed"] / p.step
                p.eta = rate * (p.total_steps - p.step)
                p.points.append({"step": p.step, "epoch": ev["epoch"], "loss": ev["loss"], "accuracy": ev["acc"]})
            elif kind == "epoch":
                p.history = ev["history"]
            elif kind == "end":
                self._reported_end = True
                p.status, p.folder, p.metrics, p.message = ev["status"], ev["folder"], ev["metrics"], ev["message"]

    def output_tail(self, lines: int = TAIL_LINES) -> str:
        """The last lines the child printed (progress-bar redraws split into lines)."""
        try:
            with open(self.dir / "output.log", "rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - 65_536))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return NO_OUTPUT
        kept = [s.rstrip() for s in re.split(r"[\r\n]", text) if s.strip()]
        return "\n".join(kept[-lines:]) or NO_OUTPUT

    # --- what the registry and the page use --------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self._ended.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the child ended and was reaped; whether it did within ``timeout``."""
        return self._ended.wait(timeout)

    def snapshot(self) -> Progress:
        with self._lock:
            if not self.finished:
                self._apply(self._reader.new_events())
                self._progress.elapsed = time.monotonic() - self._started
            p = self._progress
            return replace(p, points=list(p.points), history=list(p.history))

    def request_stop(self) -> None:
        (self.dir / "stop").touch()
        with self._lock:
            if self._progress.status in ("starting", "running"):
                self._progress.status = "stopping"

    def kill(self) -> None:
        """End the child now (server exit): no model is saved, its temporary folder is removed."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        self.wait(30)
        for tmp in self.out.parent.glob(f".{self.out.name}.*.tmp"):
            shutil.rmtree(tmp, ignore_errors=True)


class RunRefused(Exception):
    """A run was not started; ``problems`` says why (one sentence each)."""

    def __init__(self, problems: list[str]):
        super().__init__(" ".join(problems))
        self.problems = problems


class Registry:
    """The server's runs: at most ``limit`` at once, each stopped or cleared only by its owner.

    ``local_root``, ``limit`` and ``threads`` default to ``local_models_dir()``,
    ``max_runs()`` and ``train_threads()``, read at each start.
    """

    def __init__(self, local_root: Path | None = None, limit: int | None = None, threads: int | None = None,
                 nice: int = NICE, keep_finished: int = 10):
        self.local_root, self.limit, self.threads, self.nice = local_root, limit, threads, nice
        self.keep_finished = keep_finished
        self._runs: dict[str, Run] = {}
        self._lock = threading.Lock()

    def start(self, owner: str, cfg: TrainConfig, name: str, data_path: str | None,
              evaluate_test: bool = True, replace_existing: bool = False) -> Run:
        """Check the request and claim a slot in one step; RunRefused says why not."""
        root = Path(self.local_root or local_models_dir())
        limit = self.limit or max_runs()
        if read_only():  # the page does not offer training then; this guards every other way in
            raise RunRefused([_("Training is switched off on this server ({env} is set).").format(env=ENV_READ_ONLY)])
        with self._lock:
            problems = check_request(cfg, name, root, replace_existing, shipped_root=models_dir())
            active = [r for r in self._runs.values() if not r.finished]
            if any(r.name == name for r in active):
                problems.append(_("A run is already training a model named '{name}'; pick another name.").format(
                    name=name))
            if len(active) >= limit:
                problems.append(ngettext(
                    "{n} run already training on this server, the most it runs at once ({limit}); wait for one to end.",
                    "{n} runs already training on this server, the most it runs at once ({limit}); wait for one to "
                    "end.", len(active)).format(n=len(active), limit=limit))
            if problems:
                raise RunRefused(problems)
            run = Run(owner, name, cfg, root / name, evaluate_test)
            try:
                run.launch(data_path, self.threads or train_threads(), self.nice, replace_existing)
            except OSError:
                shutil.rmtree(run.dir, ignore_errors=True)
                raise
            self._runs[run.id] = run
            self._forget_old()
            return run

    def _forget_old(self) -> None:
        finished = [r for r in self._runs.values() if r.finished]
        for r in finished[:max(0, len(finished) - self.keep_finished)]:
            self._drop(r)

    def _drop(self, run: Run) -> None:
        del self._runs[run.id]
        shutil.rmtree(run.dir, ignore_errors=True)

    def runs(self) -> list[Run]:
        """Every run still listed, oldest first."""
        with self._lock:
            return list(self._runs.values())

    def active(self) -> int:
        with self._lock:
            return sum(not r.finished for r in self._runs.values())

    def _owned(self, run_id: str, owner: str) -> Run:
        run = self._runs.get(run_id)
        if run is None:
            raise KeyError(f"no run {run_id}")
        if run.owner != owner:
            raise PermissionError("Only the session that started this run can stop or clear it.")
        return run

    def stop(self, run_id: str, owner: str) -> None:
        """Ask the owner's run to stop (it keeps the best epoch so far); PermissionError for anyone else."""
        with self._lock:
            self._owned(run_id, owner).request_stop()

    def clear(self, run_id: str, owner: str) -> None:
        """Forget the owner's finished run (its model stays); PermissionError for anyone else."""
        with self._lock:
            run = self._owned(run_id, owner)
            if not run.finished:
                raise ValueError("The run is still going; stop it first.")
            self._drop(run)

    def shutdown(self) -> None:
        """Kill and reap every child (server exit) and forget every run."""
        with self._lock:
            runs, self._runs = list(self._runs.values()), {}
        for run in runs:
            run.kill()
            shutil.rmtree(run.dir, ignore_errors=True)


_registry: Registry | None = None
_registry_lock = threading.Lock()


def registry() -> Registry:
    """The server's one registry; its children are killed when the server exits."""
    global _registry
    with _registry_lock:
        if _registry is None:
            _registry = Registry()
            atexit.register(_registry.shutdown)
        return _registry
