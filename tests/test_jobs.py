"""Dashboard training runs (jobs/runs.py): the registry, the child process that trains, stop, kill, save rules,
and the training pipeline's own generators. Everything runs on a made-up IMDB tarball, so no dataset is needed."""
from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import gru_core
import gru_core.data
import gru_core.experiment
from gru_core.checkpoint import FILES, list_checkpoints, local_models_dir
from gru_core.jobs import runs as jobs
from gru_core.jobs.progress import ProgressReader, ProgressWriter
from gru_core.train import TrainConfig, TrainEvent, TrainingStopped

from .tiny import write_imdb_tar

ROOT = Path(__file__).resolve().parent.parent


def wait_until(condition, timeout: float = 120, what: str = "the condition") -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def imdb_tar(tmp_path_factory):
    path = tmp_path_factory.mktemp("imdb") / "tiny-imdb.tar.gz"
    write_imdb_tar(path, n_train=200, n_test=40)
    return path


@pytest.fixture(scope="module")
def slow_tar(tmp_path_factory):
    """Longer reviews, many of them: a run over it takes many seconds (to stop or kill it half-way)."""
    path = tmp_path_factory.mktemp("imdb-slow") / "slow-imdb.tar.gz"
    write_imdb_tar(path, n_train=2_000, n_test=8, length=(150, 250))
    return path


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def roots(tmp_path, monkeypatch, cache_dir):
    """Temporary shipped and local models folders and IMDB cache (inherited by the child processes)."""
    shipped = tmp_path / "models"
    shutil.copytree(ROOT / "models" / "gru", shipped / "gru")
    monkeypatch.setenv("GRU_EXPLORER_MODELS", str(shipped))
    monkeypatch.delenv("GRU_EXPLORER_LOCAL_MODELS", raising=False)
    monkeypatch.setenv("GRU_EXPLORER_CACHE", str(cache_dir))
    monkeypatch.setattr(gru_core.data, "DATA_DIR", tmp_path / "data")
    monkeypatch.delenv(gru_core.data.ENV_RT, raising=False)
    yield shipped, shipped / "local"


@pytest.fixture
def registry(roots):
    reg = jobs.Registry(limit=1, threads=1)
    yield reg
    reg.shutdown()


def small_cfg(**kw) -> TrainConfig:
    """Within the page's limits, and seconds to train on the made-up data."""
    settings = {"limit": 200, "epochs": 2, "batch_size": 8, "vocab_size": 100, "embed_dim": 8, "hidden": 8,
                "warmup_steps": 2, "device": "cpu"}
    return TrainConfig(**{**settings, **kw})


def leftovers(folder: Path) -> list[str]:
    """Temporary (dot) entries left in a models folder."""
    return [f.name for f in folder.iterdir() if f.name.startswith(".")] if folder.exists() else []


def dead(pid: int) -> bool:
    """Gone, or a zombie no one reaps (a container's init may not)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return any(line.startswith("State:") and "Z" in line.split()[1] for line in f)
    except FileNotFoundError:
        return True


# =========================================================================== local models folder


def test_local_models_go_to_a_gitignored_folder_of_their_own(monkeypatch, tmp_path):
    monkeypatch.delenv("GRU_EXPLORER_MODELS", raising=False)
    monkeypatch.delenv("GRU_EXPLORER_LOCAL_MODELS", raising=False)
    assert local_models_dir() == ROOT / "models" / "local"
    probe = "models/local/some-model/model.safetensors"
    ignored = subprocess.run(["git", "check-ignore", "-q", probe], cwd=ROOT, check=False)
    assert ignored.returncode == 0, "models/local/ must be gitignored"
    tracked = subprocess.run(["git", "check-ignore", "-q", "models/gru/model.safetensors"], cwd=ROOT, check=False)
    assert tracked.returncode == 1, "the shipped models stay tracked"
    monkeypatch.setenv("GRU_EXPLORER_LOCAL_MODELS", str(tmp_path / "mine"))
    assert local_models_dir() == tmp_path / "mine"


def test_settings_from_the_environment(monkeypatch):
    monkeypatch.delenv(jobs.ENV_READ_ONLY, raising=False)
    assert not jobs.read_only()
    for on in ("1", "true", "YES"):
        monkeypatch.setenv(jobs.ENV_READ_ONLY, on)
        assert jobs.read_only()
    monkeypatch.setenv(jobs.ENV_READ_ONLY, "0")
    assert not jobs.read_only()
    monkeypatch.setenv(jobs.ENV_MAX_RUNS, "3")
    assert jobs.max_runs() == 3
    monkeypatch.delenv(jobs.ENV_MAX_RUNS)
    assert jobs.max_runs() == max(1, os.cpu_count() // 2)
    monkeypatch.setenv(jobs.ENV_THREADS, "zero")
    with pytest.raises(ValueError, match=jobs.ENV_THREADS):
        jobs.train_threads()


def test_train_args_reproduce_the_config():
    from gru_core.cli import _parser

    cfg = small_cfg(lr=3e-4, seed=7, dropout=0.1)
    a = _parser().parse_args(jobs.train_args(cfg, "out", evaluate_test=False))
    rebuilt = TrainConfig(**{k: getattr(a, k) for k in vars(TrainConfig()) if k != "arch"}, arch=a.arch)
    assert rebuilt == cfg and a.no_test and a.out == "out"


def test_a_name_among_the_shipped_models_is_refused(tmp_path):
    (tmp_path / "shipped" / "custom").mkdir(parents=True)
    problems = jobs.check_request(small_cfg(), "custom", tmp_path / "local", shipped_root=tmp_path / "shipped")
    assert len(problems) == 1 and "shipped model" in problems[0]
    assert jobs.check_request(small_cfg(), "custom", tmp_path / "local") == []


def test_saving_without_replace_leaves_an_existing_model_alone(tmp_path):
    from .tiny import tiny_model

    model = tiny_model("gru")
    first = gru_core.save_checkpoint(tmp_path / "m", model.module, model.vocab, 50, replace=False)
    before = (first / "model.safetensors").read_bytes()
    other = tiny_model("gru", seed=1)
    with pytest.raises(FileExistsError, match="left as it is"):
        gru_core.save_checkpoint(tmp_path / "m", other.module, other.vocab, 50, replace=False)
    assert (first / "model.safetensors").read_bytes() == before
    assert sorted(f.name for f in tmp_path.iterdir()) == ["m"]  # no temporary folder left
    gru_core.save_checkpoint(tmp_path / "m", other.module, other.vocab, 50)  # replacing, when asked
    assert (first / "model.safetensors").read_bytes() != before


def test_a_read_only_server_refuses_runs_whatever_asks(registry, imdb_tar, monkeypatch):
    monkeypatch.setenv(jobs.ENV_READ_ONLY, "1")
    with pytest.raises(jobs.RunRefused, match="switched off"):
        registry.start("me", small_cfg(), "nope", str(imdb_tar), evaluate_test=False)
    assert registry.runs() == []


# =========================================================================== progress file


def test_progress_reader_keeps_a_half_written_line_until_it_ends(tmp_path):
    path = tmp_path / "p.jsonl"
    w, r = ProgressWriter(path, every=2), ProgressReader(path)
    assert r.new_events() == []  # no file yet
    w.phase("training")
    for step in (1, 2, 3):
        w(TrainEvent("step", 1, step, 3, 0.5, 0.75, 1.0, []))
    assert [e.get("step") for e in r.new_events()] == [None, 2, 3]  # every 2nd step and the epoch's last
    with open(path, "ab") as f:
        f.write(b'{"event": "end", "sta')
    assert r.new_events() == []
    with open(path, "ab") as f:
        f.write(b'tus": "done"}\n')
    assert r.new_events() == [{"event": "end", "status": "done"}]


# =========================================================================== registry


def test_two_sessions_claiming_at_once_get_exactly_one_run(registry, imdb_tar):
    barrier, results = threading.Barrier(6), []

    def claim(k: int) -> None:
        barrier.wait()
        try:
            results.append(registry.start(f"session-{k}", small_cfg(), f"model-{k}", str(imdb_tar),
                                          evaluate_test=False))
        except jobs.RunRefused as e:
            results.append(e)

    threads = [threading.Thread(target=claim, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [r for r in results if isinstance(r, jobs.Run)]
    refused = [r for r in results if isinstance(r, jobs.RunRefused)]
    assert len(won) == 1 and len(refused) == 5
    assert all("the most it runs at once (1)" in r.problems[-1] for r in refused)
    assert registry.runs() == won
    assert won[0].wait(120) and won[0].snapshot().status == "done"
    # the slot is free again once the run ended
    again = registry.start("session-x", small_cfg(), "model-x", str(imdb_tar), evaluate_test=False)
    assert again.wait(120)


def test_only_the_owner_can_stop_or_clear(registry, slow_tar):
    run = registry.start("alice", small_cfg(limit=2_000, epochs=5), "alices", str(slow_tar), evaluate_test=False)
    assert [r.name for r in registry.runs()] == ["alices"]  # everyone sees it ...
    with pytest.raises(PermissionError):
        registry.stop(run.id, "bob")  # ... but only alice can stop it
    with pytest.raises(ValueError, match="stop it first"):
        registry.clear(run.id, "alice")
    wait_until(lambda: run.snapshot().step > 0, what="training steps")
    assert run.snapshot().status == "running"
    registry.stop(run.id, "alice")
    assert run.wait(120)
    p = run.snapshot()
    assert p.status == "stopped" and p.folder == str(run.out) and p.step < p.total_steps
    assert gru_core.load_model(run.out).metrics["stopped_early"] is True
    with pytest.raises(PermissionError):
        registry.clear(run.id, "bob")
    registry.clear(run.id, "alice")
    assert registry.runs() == [] and not run.dir.exists() and run.out.is_dir()  # the model stays


def test_a_second_run_may_not_train_the_same_name(roots, imdb_tar):
    reg = jobs.Registry(limit=2, threads=1)
    try:
        first = reg.start("a", small_cfg(), "same", str(imdb_tar), evaluate_test=False)
        with pytest.raises(jobs.RunRefused, match="already training a model named 'same'"):
            reg.start("b", small_cfg(), "same", str(imdb_tar), evaluate_test=False)
        assert first.wait(120)
        with pytest.raises(jobs.RunRefused, match="already exists"):
            reg.start("b", small_cfg(), "same", str(imdb_tar), evaluate_test=False)
        with pytest.raises(jobs.RunRefused, match="shipped"):  # a folder of the shipped models
            reg.start("b", small_cfg(), "gru", str(imdb_tar), evaluate_test=False)
    finally:
        reg.shutdown()


# =========================================================================== the child process


def test_a_run_trains_in_a_niced_child_and_saves_into_the_local_folder(registry, roots, imdb_tar):
    shipped, local = roots
    run = registry.start("me", small_cfg(), "tiny", str(imdb_tar), evaluate_test=True)
    assert run.process.pid != os.getpid()
    wait_until(lambda: run.snapshot().status != "starting", what="the child to set itself up")
    try:
        nice = os.getpriority(os.PRIO_PROCESS, run.process.pid)
    except ProcessLookupError:
        nice = None  # it already ended
    assert nice is None or nice >= os.getpriority(os.PRIO_PROCESS, 0) + jobs.NICE
    assert run.wait(120)
    p = run.snapshot()
    assert p.status == "done", p.error
    assert run.process.returncode == 0  # reaped
    assert p.folder == str(local / "tiny") and p.phase == "saving"
    steps_per_epoch = -(-180 // 8)  # 200 reviews, 20 held out for validation
    assert p.total_steps == 2 * steps_per_epoch and p.step == p.total_steps
    assert [h["epoch"] for h in p.history] == [1, 2] and all(h["complete"] for h in p.history)
    assert p.points and [pt["step"] for pt in p.points] == sorted(pt["step"] for pt in p.points)
    assert p.metrics["history"] == p.history and p.metrics["imdb_test"]["n"] == 40
    assert sorted(f.name for f in (local / "tiny").iterdir()) == sorted(FILES)
    assert [c.name for c in list_checkpoints(local)] == ["tiny"]
    assert [c.name for c in list_checkpoints(shipped)] == ["gru"]  # nothing written among the shipped ones
    assert not leftovers(local)


def test_stop_during_data_preparation_saves_nothing(registry, roots, slow_tar):
    run = registry.start("me", small_cfg(limit=2_000), "early", str(slow_tar), evaluate_test=False)
    registry.stop(run.id, "me")  # the child is still starting: the stop is seen before any training step
    assert run.wait(120)
    p = run.snapshot()
    assert p.status == "stopped", p.error
    assert "data preparation" in p.message and p.folder is None and p.points == [] and p.history == []
    assert not (roots[1] / "early").exists()


def test_a_killed_run_is_reported_failed_with_its_output(registry, roots, slow_tar):
    run = registry.start("me", small_cfg(limit=2_000, epochs=10), "killed", str(slow_tar), evaluate_test=False)
    log = run.dir / "output.log"
    wait_until(lambda: run.snapshot().step > 0 and b"epoch 1/10" in log.read_bytes(), what="training steps")
    run.process.kill()
    assert run.wait(30)
    p = run.snapshot()
    assert p.status == "failed"
    assert "killed by signal SIGKILL" in p.error and "epoch 1/10" in p.output
    assert not (roots[1] / "killed").exists() and not leftovers(roots[1])


def test_a_run_never_replaces_a_model_that_appeared_meanwhile(registry, roots, imdb_tar):
    shipped, local = roots
    run = registry.start("me", small_cfg(), "taken", str(imdb_tar), evaluate_test=False)
    shutil.copytree(shipped / "gru", local / "taken")  # appears after the check, before the save
    before = (local / "taken" / "model.safetensors").read_bytes()
    assert run.wait(120)
    p = run.snapshot()
    assert p.status == "failed" and "exited with status 2" in p.error and "already in" in p.output
    assert (local / "taken" / "model.safetensors").read_bytes() == before
    assert not leftovers(local)


def test_replacing_a_local_model_when_asked(registry, roots, imdb_tar):
    shipped, local = roots
    shutil.copytree(shipped / "gru", local / "again")
    with pytest.raises(jobs.RunRefused, match="already exists"):
        registry.start("me", small_cfg(), "again", str(imdb_tar), evaluate_test=False)
    run = registry.start("me", small_cfg(), "again", str(imdb_tar), evaluate_test=False, replace_existing=True)
    assert run.wait(120) and run.snapshot().status == "done", run.snapshot().error
    assert gru_core.load_model(local / "again").config["hidden"] == 8


def test_missing_data_fails_with_the_reason(registry, roots, tmp_path):
    run = registry.start("me", small_cfg(), "nodata", str(tmp_path / "nowhere.tar.gz"), evaluate_test=False)
    assert run.wait(120)
    p = run.snapshot()
    assert p.status == "failed" and "exited with status 2" in p.error and "nowhere.tar.gz" in p.output


SERVER = textwrap.dedent("""
    import os, sys, time
    from gru_core.jobs import runs as jobs
    from gru_core.train import TrainConfig
    reg = jobs.registry()
    cfg = TrainConfig(limit=2000, epochs=10, batch_size=8, vocab_size=100, embed_dim=8, hidden=8, device="cpu")
    run = reg.start("me", cfg, "orphan", sys.argv[1], evaluate_test=False)
    while run.snapshot().step == 0:
        time.sleep(0.05)
    print(run.process.pid, flush=True)
    if sys.argv[2] == "exit":
        sys.exit(0)  # a normal server exit: atexit kills and reaps the child
    time.sleep(600)  # killed from outside: the child's death signal ends it
""")


@pytest.mark.parametrize("how", ["exit", "kill"])
def test_the_server_ending_ends_its_runs_without_a_model(roots, slow_tar, how):
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(slow_tar), how], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
    child = int(server.stdout.readline())
    if how == "kill":
        server.kill()
    server.wait(60)
    wait_until(lambda: dead(child), timeout=30, what="the training process to end")
    assert not (roots[1] / "orphan").exists() and not leftovers(roots[1])


# =========================================================================== the pipeline in process


def _bytes_of(folder: Path) -> bytes:
    return (folder / "model.safetensors").read_bytes()


def test_same_settings_and_seed_give_bit_identical_weights(roots, imdb_tar, tmp_path):
    cfg = TrainConfig(**{**vars(small_cfg()), "embed_dropout": 0.5, "dropout": 0.3})

    def busy_neighbour(ev: TrainEvent) -> None:  # another session drawing from the global generators
        torch.manual_seed(ev.step)
        torch.rand(100)
        random.random()

    a, _ = gru_core.experiment.train_and_save(cfg, tmp_path / "a", str(imdb_tar), evaluate_test=False)
    torch.manual_seed(12345)
    gru_core.load_model(ROOT / "models" / "gru").predict_proba(["A model load in between."])
    torch.randn(1000)
    b, _ = gru_core.experiment.train_and_save(cfg, tmp_path / "b", str(imdb_tar), evaluate_test=False,
                                              callback=busy_neighbour)
    assert _bytes_of(a) == _bytes_of(b)
    c, _ = gru_core.experiment.train_and_save(TrainConfig(**{**vars(cfg), "seed": 1}), tmp_path / "c",
                                              str(imdb_tar), evaluate_test=False)
    assert _bytes_of(c) != _bytes_of(a)  # the seed matters: the check above can fail


def test_the_saved_weights_are_the_best_epochs(roots, imdb_tar, tmp_path, monkeypatch):
    built = []  # the module the pipeline trains, kept to read its weights after each epoch
    real_build = gru_core.experiment.build_module

    def build_and_keep(cfg: TrainConfig):
        built.append(real_build(cfg))
        return built[-1]

    monkeypatch.setattr(gru_core.experiment, "build_module", build_and_keep)
    seen = []  # (validation accuracy, weights) after each epoch, as the loop left them

    def record(ev: TrainEvent) -> None:
        if ev.kind == "epoch":
            seen.append((ev.history[-1]["val_acc"], {k: v.detach().clone() for k, v in built[0].state_dict().items()}))

    cfg = small_cfg(epochs=6, lr=0.05, seed=3)
    folder, metrics = gru_core.experiment.train_and_save(cfg, tmp_path / "best", str(imdb_tar),
                                                         evaluate_test=False, callback=record)
    accs = [acc for acc, _ in seen]
    best = accs.index(max(accs))
    assert metrics["best_epoch"] == best + 1
    assert best != len(seen) - 1, "the test needs a run whose best epoch is not its last"
    saved = load_file(str(folder / "model.safetensors"))
    assert all(torch.equal(saved[k], v) for k, v in seen[best][1].items())
    assert not all(torch.equal(saved[k], v) for k, v in seen[-1][1].items())


def test_stop_checks_in_preparation_and_final_evaluation(roots, imdb_tar, tmp_path):
    phases = []

    def stop_when(phase: str):
        return lambda: bool(phases) and phases[-1] == phase

    with pytest.raises(TrainingStopped, match="data preparation"):
        gru_core.experiment.train_and_save(small_cfg(), tmp_path / "prep", str(imdb_tar), phase=phases.append,
                                           stop=stop_when("preparing data"))
    assert phases == ["preparing data"] and not (tmp_path / "prep").exists()
    phases.clear()
    folder, metrics = gru_core.experiment.train_and_save(small_cfg(), tmp_path / "eval", str(imdb_tar),
                                                         phase=phases.append, stop=stop_when("evaluating"))
    assert phases == ["preparing data", "training", "evaluating", "saving"]
    assert "imdb_test" not in metrics and "stopped" in metrics["evaluation"]
    assert not metrics["stopped_early"] and len(metrics["history"]) == 2  # training itself ran to the end
    assert gru_core.load_model(folder).metrics["evaluation"] == metrics["evaluation"]
