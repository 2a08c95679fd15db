"""Data-parallel training over the processes ``torchrun`` starts (PyTorch's DistributedDataParallel).

torchrun sets WORLD_SIZE, RANK and LOCAL_RANK in each process. Without them (a
plain ``python -m gru_core train``, or the dashboard) there is one process and
no process group, and every method of ``Ranks`` is the identity, so the
training loop is the same code either way and gives the same result as before.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

ENV_CHECKSUMS = "GRU_EXPLORER_STEP_CHECKSUMS"  # debugging aid: a folder for per-rank weight checksums


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes (rank 0 of 1 without torchrun)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @property
    def main(self) -> bool:
        """Rank 0: the one that evaluates, reports and saves."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def device(self, device: torch.device) -> torch.device:
        """Each process on a machine drives its own GPU (LOCAL_RANK); on CPU all share it."""
        if self.distributed and device.type == "cuda":
            return torch.device("cuda", self.local_rank)
        return device

    def shard(self, batches: list) -> list:
        """This rank's batches of an epoch: every world-th one, the same count on every rank.

        Every rank draws the same seeded epoch order; the last ``len % world`` batches
        of that order are left out this epoch, so no rank waits for a step the others
        never take.
        """
        per_rank = len(batches) // self.world
        if per_rank == 0:
            raise ValueError(f"{len(batches)} batches cannot be shared by {self.world} processes: "
                             "use more reviews or a smaller --batch-size")
        return batches[self.rank:per_rank * self.world:self.world]

    def steps(self, batches: int) -> int:
        """Steps per epoch on each rank when an epoch holds ``batches`` batches."""
        return batches // self.world

    def wrap(self, module: nn.Module) -> nn.Module:
        """The module whose backward pass averages the gradients over the ranks."""
        if not self.distributed:
            return module
        device_ids = [self.local_rank] if next(module.parameters()).is_cuda else None
        return nn.parallel.DistributedDataParallel(module, device_ids=device_ids)

    def sum(self, *values: float) -> tuple[float, ...]:
        """Each value summed over the ranks (float64)."""
        if not self.distributed:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=self._comm_device())
        dist.all_reduce(t)
        return tuple(t.tolist())

    def from_main(self, *values: float) -> tuple[float, ...]:
        """Rank 0's values, on every rank (the others pass placeholders)."""
        if not self.distributed:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=self._comm_device())
        dist.broadcast(t, 0)
        return tuple(t.tolist())

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def _comm_device(self) -> torch.device:
        # NCCL moves only CUDA tensors; gloo only CPU ones.
        return torch.device("cuda", self.local_rank) if dist.get_backend() == "nccl" else torch.device("cpu")

    def record_weights(self, module: nn.Module) -> None:
        """With $GRU_EXPLORER_STEP_CHECKSUMS set: append the SHA-256 of every parameter's bytes
        to ``rank<N>.txt`` there (one line per step), so runs can check the ranks stay identical."""
        folder = os.environ.get(ENV_CHECKSUMS)
        if not folder:
            return
        h = hashlib.sha256()
        for p in module.parameters():
            h.update(p.detach().cpu().contiguous().numpy().tobytes())
        path = Path(folder) / f"rank{self.rank}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="ascii") as f:
            f.write(h.hexdigest() + "\n")


ONE_PROCESS = Ranks()


def ranks_from_env() -> Ranks:
    """The ranks torchrun describes in the environment; one process without it."""
    env = os.environ
    world = int(env.get("WORLD_SIZE", "1"))
    if world <= 1:
        return ONE_PROCESS
    return Ranks(int(env["RANK"]), world, int(env.get("LOCAL_RANK", "0")), int(env.get("LOCAL_WORLD_SIZE", world)))


@contextmanager
def process_group(device: torch.device) -> Iterator[tuple[Ranks, torch.device]]:
    """Join torchrun's process group for the block (NCCL on CUDA, gloo on CPU); yield (ranks, this rank's device).

    Without torchrun: no process group, the device unchanged.
    """
    ranks = ranks_from_env()
    if not ranks.distributed:
        yield ranks, device
        return
    device = ranks.device(device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield ranks, device
    finally:
        dist.destroy_process_group()
