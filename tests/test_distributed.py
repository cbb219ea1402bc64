"""``python -m resnet_edu.train`` under ``torchrun``: two gloo processes on the CPU train their shards with
DistributedDataParallel for a few steps and end with identical weights (``make ddp`` runs only this)."""

import os
import subprocess
import sys
from pathlib import Path

import torch

from resnet_edu import nets

ROOT = Path(__file__).resolve().parents[1]


def test_torchrun_two_gloo_ranks_end_with_identical_weights(tmp_path):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "resnet_edu.train", "--dataset", "digits", "--depth", "8", "--width", "4", "--steps", "5",
               "--batch-size", "64", "--device", "cpu", "--quiet", "--save", str(tmp_path / "rank{rank}.pt")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    print(done.stdout)
    assert "2 processes (DistributedDataParallel)" in done.stdout and "5 steps in" in done.stdout
    assert "2 ranks: weights identical on every rank: True (max |difference| 0)" in done.stdout
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt")["model"] for r in (0, 1))  # run checkpoints
    assert rank0.keys() == rank1.keys() and all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    torch.manual_seed(0)
    start = nets.cifar_net(8, width=4, in_channels=1).state_dict()
    assert not torch.equal(start["fc.weight"], rank0["fc.weight"])  # they trained, and stayed in step
