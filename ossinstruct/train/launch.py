"""The command that starts fine-tuning on the GPUs a job was given.

    launch_command(["--train-file", "t.jsonl", ...], gpus=8)
    -> ["accelerate", "launch", "--num_processes", "8", "--num_machines", "1",
        "--multi_gpu", "-m", "ossinstruct", "train", "--train-file", "t.jsonl", ...]

* gpus <= 1 on one node: plain ``python -m ossinstruct train ...`` (no launcher; the
  Trainer uses the one GPU, or the CPU).
* several GPUs: ``accelerate launch`` with ``--num_processes = gpus * nodes`` and
  ``--num_machines = nodes``. Strategy "ddp" (the paper's: PyTorch DDP) adds
  ``--multi_gpu``; "fsdp" and "deepspeed" add ``--config_file`` with
  configs/accelerate/fsdp.yaml or configs/accelerate/deepspeed_zero3.yaml (sharded
  weights, gradients and optimizer state for 7B models in bf16).
* several nodes: each node runs one launcher, which starts its `gpus` processes. The
  machine rank is ``$SLURM_NODEID`` and the rendezvous host is the first host of
  ``$SLURM_JOB_NODELIST`` (``scontrol show hostnames``; a plain parser of the nodelist
  syntax when scontrol is not on PATH; ``$MASTER_ADDR`` wins when set). Because the rank
  differs per node, the command must be built *on each node*: run
  ``srun --ntasks-per-node=1 python -m ossinstruct.launch --gpus 4 --nodes 2 -- <train
  args>``, which builds the command there and executes it.

The training process computes its gradient accumulation from WORLD_SIZE, which the
launcher sets, so the effective batch stays `effective_batch_size` for any GPU count.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
ACCELERATE_CONFIGS = REPO_ROOT / "configs" / "accelerate"
STRATEGY_CONFIGS = {"fsdp": "fsdp.yaml", "deepspeed": "deepspeed_zero3.yaml"}
STRATEGIES = ("ddp", "fsdp", "deepspeed")
TRAIN_ENTRY = ["-m", "ossinstruct", "train"]
DEFAULT_PORT = 29500


def accelerate_config(strategy: str) -> Path | None:
    """configs/accelerate/<file> for fsdp/deepspeed; None for ddp (no config needed)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy {strategy!r}: one of {', '.join(STRATEGIES)}")
    name = STRATEGY_CONFIGS.get(strategy)
    return ACCELERATE_CONFIGS / name if name else None


def expand_nodelist(nodelist: str) -> list[str]:
    """Hosts of a SLURM nodelist ("gpu[01-03,07],cpu1" -> gpu01 gpu02 gpu03 gpu07 cpu1),
    for machines without scontrol. Zero padding of ranges is kept."""
    hosts: list[str] = []
    for match in re.finditer(r"([^,\[]+)(?:\[([^\]]*)\])?", nodelist):
        prefix, ranges = match.group(1), match.group(2)
        if ranges is None:
            hosts.append(prefix)
            continue
        for part in ranges.split(","):
            if "-" in part:
                lo, hi = part.split("-", 1)
                width = len(lo)
                hosts.extend(f"{prefix}{i:0{width}d}" for i in range(int(lo), int(hi) + 1))
            else:
                hosts.append(prefix + part)
    return hosts


def _scontrol_hostnames(nodelist: str) -> list[str] | None:
    if shutil.which("scontrol") is None:
        return None
    out = subprocess.run(
        ["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, timeout=30, check=True
    )
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def main_host() -> str:
    """The rendezvous host: $MASTER_ADDR, else the first host of $SLURM_JOB_NODELIST."""
    if os.environ.get("MASTER_ADDR"):
        return os.environ["MASTER_ADDR"]
    nodelist = os.environ.get("SLURM_JOB_NODELIST") or os.environ.get("SLURM_NODELIST")
    if not nodelist:
        raise RuntimeError("multi-node training needs SLURM_JOB_NODELIST (or MASTER_ADDR)")
    hosts = _scontrol_hostnames(nodelist) or expand_nodelist(nodelist)
    if not hosts:
        raise RuntimeError(f"no host in SLURM_JOB_NODELIST={nodelist!r}")
    return hosts[0]


def machine_rank() -> int:
    value = os.environ.get("SLURM_NODEID")
    if value is None:
        raise RuntimeError(
            "multi-node training needs SLURM_NODEID: run the launcher with srun --ntasks-per-node=1, once per node"
        )
    return int(value)


def launch_command(
    script_args: list[str],
    gpus: int,
    nodes: int = 1,
    strategy: str = "ddp",
    main_process_port: int | None = None,
    *,
    python: str = "python",
) -> list[str]:
    """The argv that runs ``python -m ossinstruct train <script_args>`` on gpus x nodes."""
    if gpus < 0 or nodes < 1:
        raise ValueError(f"gpus must be >= 0 and nodes >= 1, got gpus={gpus}, nodes={nodes}")
    config = accelerate_config(strategy)
    script_args = [str(a) for a in script_args]
    if gpus <= 1 and nodes == 1:
        return [python, *TRAIN_ENTRY, *script_args]
    processes = max(gpus, 1) * nodes
    cmd = ["accelerate", "launch", "--num_processes", str(processes), "--num_machines", str(nodes)]
    if strategy == "ddp":
        cmd.append("--multi_gpu")
    else:
        cmd += ["--config_file", str(config)]
    if nodes > 1:
        cmd += [
            "--machine_rank",
            str(machine_rank()),
            "--main_process_ip",
            main_host(),
            "--main_process_port",
            str(main_process_port or DEFAULT_PORT),
            "--rdzv_backend",
            "static",
            "--same_network",
        ]
    elif main_process_port:
        cmd += ["--main_process_port", str(main_process_port)]
    return cmd + [*TRAIN_ENTRY, *script_args]


def main(argv: list[str] | None = None) -> int:
    """Build the command for this node and run it (exec: signals reach the launcher)."""
    parser = argparse.ArgumentParser(
        prog="python -m ossinstruct.launch", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gpus", type=int, required=True, help="GPUs per node")
    parser.add_argument("--nodes", type=int, default=1)
    parser.add_argument("--strategy", choices=STRATEGIES, default="ddp")
    parser.add_argument("--main-process-port", type=int)
    parser.add_argument("--dry-run", action="store_true", help="print the command only")
    parser.add_argument(
        "train_args", nargs=argparse.REMAINDER, help="arguments of `python -m ossinstruct train` (after --)"
    )
    args = parser.parse_args(argv)
    train_args = args.train_args[1:] if args.train_args[:1] == ["--"] else args.train_args
    cmd = launch_command(
        train_args, args.gpus, args.nodes, args.strategy, args.main_process_port, python=sys.executable
    )
    if args.dry_run:
        print(" ".join(cmd))
        return 0
    sys.stdout.flush()
    os.execvp(cmd[0], cmd)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
