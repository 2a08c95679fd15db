"""Scale-out training: ``torchrun -m gru_core train`` with DistributedDataParallel over 2 CPU processes (gloo).

The run reads a made-up aclImdb tarball, so it needs no dataset. A debugging
hook ($GRU_EXPLORER_STEP_CHECKSUMS) makes every rank write the SHA-256 of its
weights after each step; the ranks train on different batches, so their files
agree only if the gradients really are averaged over the ranks.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time

import pytest
import torch
import torch.multiprocessing as mp

from benchmarks.harness import free_port
from gru_core.distributed import ENV_CHECKSUMS, Ranks, process_group, ranks_from_env
from gru_core.predictor import load_model
from gru_core.train import TrainConfig, build_module, fit, prepare

from .tiny import write_imdb_tar

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_shard_gives_each_rank_every_nth_batch_in_equal_counts():
    batches = list(range(11))
    shards = [Ranks(r, 3).shard(batches) for r in range(3)]
    assert shards == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]  # 9 and 10 wait for another epoch's order
    assert Ranks().shard(batches) == batches and Ranks().steps(11) == 11 and Ranks(1, 3).steps(11) == 3
    with pytest.raises(ValueError, match="cannot be shared by 4 processes"):
        Ranks(0, 4).shard(batches[:3])


def test_ranks_come_from_torchruns_environment(monkeypatch):
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(k, raising=False)
    assert ranks_from_env() == Ranks() and not ranks_from_env().distributed
    monkeypatch.setenv("WORLD_SIZE", "1")  # torchrun --nproc_per_node 1: no process group
    assert not ranks_from_env().distributed
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    r = ranks_from_env()
    assert (r.rank, r.world, r.local_rank, r.local_world, r.main, r.distributed) == (3, 4, 1, 2, False, True)


def test_torchrun_trains_two_ranks_in_step(tmp_path):
    tar = tmp_path / "imdb.tar.gz"
    write_imdb_tar(tar, n_train=200, n_test=20)
    out, sums = tmp_path / "models" / "ddp", tmp_path / "sums"
    env = {**os.environ, ENV_CHECKSUMS: str(sums), "GRU_EXPLORER_CACHE": str(tmp_path / "cache"),
           "PYTHONPATH": ROOT, "OMP_NUM_THREADS": "1"}
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "gru_core", "train", "--data", str(tar), "--out", str(out), "--epochs", "2", "--batch-size", "16",
           "--vocab-size", "30", "--embed-dim", "8", "--hidden", "8", "--device", "cpu", "--no-test"]
    run = subprocess.run(cmd, check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr

    # 200 reviews, 20 for validation: 12 batches of 16 an epoch, 6 on each rank, 2 epochs
    steps = 2 * math.ceil(180 / 16) // 2
    rank0 = (sums / "rank0.txt").read_text().split()
    rank1 = (sums / "rank1.txt").read_text().split()
    assert len(rank0) == steps == 12
    assert rank0 == rank1, "the ranks' weights differ after some step"
    assert len(set(rank0)) == steps, "every step changes the weights"

    # rank 0 alone reports: one line per epoch, one best-epoch line
    assert run.stdout.count("val loss") == 2 and run.stdout.count("best epoch") == 1, run.stdout
    model = load_model(out)
    m = model.metrics
    assert m["processes"] == 2 and m["command"].startswith("torchrun --nnodes 1 --nproc_per_node 2 -m gru_core train")
    assert m["train_reviews"] == 180 and [h["steps"] for h in m["history"]] == [6, 6]
    assert m["val_acc"] == max(h["val_acc"] for h in m["history"]) and "imdb_test" not in m
    good, bad = model.predict_proba(["great wonderful loved", "awful boring hated"])
    assert float(good) != float(bad)
    assert [p.name for p in out.parent.iterdir()] == ["ddp"]  # nothing half-written beside it


def _stop_worker(rank: int, world: int, port: int, tar: str, out: str) -> None:
    """One rank of an in-process group: train with a callback that asks to stop at step 2."""
    os.environ.update(WORLD_SIZE=str(world), RANK=str(rank), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    cfg = TrainConfig(epochs=3, batch_size=8, vocab_size=30, embed_dim=8, hidden=8, warmup_steps=2, device="cpu")
    events = []

    def callback(ev) -> bool:
        events.append([ev.kind, ev.step])
        return ev.kind == "step" and ev.step == 2

    with process_group(torch.device("cpu")) as (ranks, _):
        data = prepare(cfg, tar)
        history, _ = fit(build_module(cfg), data, cfg, callback, ranks)
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump({"history": history, "events": events}, f)


def test_a_stop_asked_on_rank_0_stops_every_rank(tmp_path, monkeypatch):
    tar = tmp_path / "imdb.tar.gz"
    write_imdb_tar(tar, n_train=100, n_test=10)
    monkeypatch.setenv("GRU_EXPLORER_CACHE", str(tmp_path / "cache"))
    prepare(TrainConfig(vocab_size=30), str(tar))  # build the token cache once, before the ranks read it
    ctx = mp.spawn(_stop_worker, args=(2, free_port(), str(tar), str(tmp_path)), nprocs=2, join=False)
    deadline = time.monotonic() + 240
    while not ctx.join(timeout=2):  # raises if a rank failed
        if time.monotonic() > deadline:  # a rank that missed the stop waits in a collective for ever
            for proc in ctx.processes:
                proc.kill()
            pytest.fail("the ranks did not all stop")
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2))
    assert r0["events"] == [["step", 1], ["step", 2], ["epoch", 2]]  # rank 0 alone reports
    assert r1["events"] == []
    for r in (r0, r1):  # both stopped at the same step, with the same history (validated on rank 0)
        assert len(r["history"]) == 1 and r["history"][0]["steps"] == 2 and not r["history"][0]["complete"]
    assert r0["history"][0] | {"seconds": 0} == r1["history"][0] | {"seconds": 0}
