"""Training under ``torchrun`` (``torch.distributed``): which ranks there are, which device a rank uses, its shard of
the data, rank 0's BatchNorm statistics for everyone, and the decisions every rank must take together."""

from __future__ import annotations

import datetime
import math
import os

import torch
from torch import nn

from .. import _checks
from ..data import ImageData


def ranks() -> tuple[int, int] | None:
    """(rank, world size) under an initialised torch.distributed process group with more than one process."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return dist.get_rank(), dist.get_world_size()
    return None


# How long a rank waits in a collective for the others (init_process_group's timeout): a rank that crashed ends the
# others' wait with an error within two minutes instead of NCCL's default 10 (issue 28).
TIMEOUT_S = 90


def local_device(device: torch.device, rank: int = 0) -> torch.device:
    """The device this process trains on. Under ``torchrun`` a bare ``cuda`` means this process's own GPU,
    ``cuda:LOCAL_RANK`` (``rank`` modulo the GPU count when LOCAL_RANK is unset) — never every rank on GPU 0. An
    explicit ``cuda:N`` is taken only when it is that GPU; another one is refused (several ranks on one GPU)."""
    if device.type != "cuda":
        return device
    count = torch.cuda.device_count()
    local = os.environ.get("LOCAL_RANK")
    index = int(local) if local is not None and local.strip().isdigit() else rank % max(1, count)
    if device.index is not None and device.index != index:
        raise ValueError(f"device {device} was given to every process, but this is local rank {index}: several "
                         f"ranks would share GPU {device.index}. Pass device='cuda' (each rank then takes "
                         "cuda:LOCAL_RANK), or run one process.")
    if index >= count:
        raise ValueError(f"this process is local rank {index}, but the machine has {count} CUDA device(s); start "
                         f"at most {count} processes per machine (torchrun --nproc_per_node {count})")
    return torch.device("cuda", index)


def init(device: torch.device) -> None:
    """Join torchrun's process group: NCCL bound to this rank's GPU (``device_id``) or gloo on CPUs, with a
    :data:`TIMEOUT_S` timeout so that a crashed rank does not leave the others waiting."""
    timeout = datetime.timedelta(seconds=TIMEOUT_S)
    if device.type == "cuda":
        torch.distributed.init_process_group("nccl", device_id=device, timeout=timeout)
    else:
        torch.distributed.init_process_group("gloo", timeout=timeout)


def shard(data: ImageData, rank: int, world: int) -> ImageData:
    """Rank ``rank``'s share of ``data``: every ``world``-th image from ``rank`` on, all shards of equal length."""
    if not isinstance(data, ImageData):
        raise TypeError(f"data must be a resnet_edu.data.ImageData; got {type(data).__name__}")
    world = _checks.integer("world", world, low=1)
    rank = _checks.integer("rank", rank, low=0)
    if rank >= world:
        raise ValueError(f"rank must be in [0, world) = [0, {world}); got rank {rank}")
    if len(data) < world:
        raise ValueError(f"{len(data)} images cannot be shared among {world} processes (each needs at least one)")
    n = len(data) // world * world
    return ImageData(data.x[rank:n:world], data.y[rank:n:world], data.name, data.classes)


def broadcast_buffers(model: nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank. DDP syncs them at the start of each
    forward pass, so after the last step each rank still holds the statistics of its own last batch."""
    for buffer in model.buffers():
        torch.distributed.broadcast(buffer, 0)


def first_divergence(step: int | None, loss: float, device: torch.device) -> tuple[int | None, float, int]:
    """Agree on divergence: every rank passes the first step at which its own loss was not finite (None if none)
    and that loss; every rank gets back the same (earliest step over all ranks or None, its loss, the rank that saw
    it). Each rank deciding alone would let one rank leave while the others wait in the next all-reduce."""
    world = torch.distributed.get_world_size()
    mine = torch.tensor([math.inf if step is None else float(step), loss], dtype=torch.float64, device=device)
    every = [torch.empty_like(mine) for _ in range(world)]
    torch.distributed.all_gather(every, mine)
    table = torch.stack(every).cpu()
    who = int(table[:, 0].argmin())
    first = float(table[who, 0])
    return (None, 0.0, 0) if math.isinf(first) else (int(first), float(table[who, 1]), who)


def weights_agree(model: nn.Module) -> tuple[bool, float]:
    """Whether every rank holds the same weights, and the largest difference from rank 0's."""
    flat = torch.cat([t.detach().float().flatten() for t in model.state_dict().values()])
    gathered = [torch.empty_like(flat) for _ in range(torch.distributed.get_world_size())]
    torch.distributed.all_gather(gathered, flat)
    gap = max(float((g - gathered[0]).abs().max()) for g in gathered)
    return gap == 0, gap
