"""The command that starts fine-tuning on the GPUs a job was given.

    launch_command(["--train-file", "t.jsonl", ...], gpus=8)  # gpus: of each node
    -> ["accelerate", "launch", "--num_processes", "8", "--num_machines", "1",
        "--multi_gpu", "-m", "ossinstruct", "train", "--train-file", "t.jsonl", ...]

* gpus <= 1 on one node: plain ``python -m ossinstruct train ...`` (no launcher; the
  Trainer uses the one GPU, or the CPU).
* several GPUs: ``accelerate launch`` with ``--num_processes = gpus * nodes`` and
  ``--num_machines = nodes``. Strategy "ddp" (the paper's: PyTorch DDP) adds
  ``--multi_gpu``; "fsdp" and "deepspeed" add ``--config_file`` with
  configs/accelerate/fsdp.yaml or configs/accelerate/deepspeed_zero3.yaml (sharded
  weights, gradients and optimizer state for 7B models in bf16).
* several nodes (``--nodes N``, or the job's node count from SLURM): the command line's
  ``--gpus`` is the job's total, N x the GPUs of a node (what the train rule declares as
  its `gpu` resource and SLURM's ``--gpus`` counts). Run once in the job (the train rule
  does, on the first node), the launcher starts one task per node with ``srun --overlap
  --nodes N --ntasks N --ntasks-per-node 1 --gpus-per-node G`` (`node_tasks_command`),
  each of which runs this launcher again as a node task: the machine rank is that task's
  ``$SLURM_NODEID`` and the rendezvous host the first host of ``$SLURM_JOB_NODELIST``
  (``scontrol show hostnames``; a plain parser of the nodelist syntax when scontrol is not
  on PATH; ``$MASTER_ADDR`` wins when set), and it execs ``accelerate launch`` for that
  node's G processes. The node count and CPUs per task come from ``$SLURM_JOB_NUM_NODES``
  and ``$SLURM_CPUS_PER_TASK`` or, where Snakemake's SLURM plugin removed them from the
  job's environment, from ``scontrol show job $SLURM_JOB_ID``.

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
NODE_TASK_ENV = "OSSINSTRUCT_LAUNCH_NODE_TASK"  # set on the tasks srun starts, one per node
# What a nested srun must not inherit from the step it runs in (the node count, tasks and
# GPUs of that one-task step would override the job's): every SLURM_* but these.
KEEP_SLURM = (
    "SLURM_JOB_ID",
    "SLURM_JOBID",
    "SLURM_CLUSTER_NAME",
    "SLURM_CONF",
    "SLURM_SUBMIT_DIR",
    "SLURM_SUBMIT_HOST",
)


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
    """The hosts of a nodelist by scontrol; None without scontrol or when it fails (no
    slurm.conf on this machine): the caller parses the nodelist itself."""
    if shutil.which("scontrol") is None:
        return None
    out = subprocess.run(["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        return None
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def main_host() -> str:
    """The rendezvous host: $MASTER_ADDR, else the first host of the job's (or the step's)
    node list."""
    if os.environ.get("MASTER_ADDR"):
        return os.environ["MASTER_ADDR"]
    env = os.environ
    # A node task's step spans the job's nodes; its SLURM_NODEID counts the step's nodes.
    nodelist = env.get("SLURM_STEP_NODELIST") or env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST")
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


def _scontrol_job(job_id: str) -> dict[str, str]:
    """`scontrol show job -o <id>` as key=value pairs ({} without scontrol)."""
    if shutil.which("scontrol") is None:
        return {}
    result = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        print(f"ossinstruct.launch: scontrol show job {job_id}: {result.stderr.strip()}", file=sys.stderr)
        return {}
    return dict(item.split("=", 1) for item in result.stdout.split() if "=" in item)


def allocation() -> dict:
    """The SLURM job this runs in: {"nodes", "cpus_per_task"} (values None when unknown);
    {} outside SLURM. From the environment SLURM gives a job, else from scontrol (Snakemake's
    SLURM plugin keeps only SLURM_JOB_ID in a job's environment)."""
    env = os.environ
    job_id = env.get("SLURM_JOB_ID") or env.get("SLURM_JOBID")
    if not job_id:
        return {}
    nodes, cpus = env.get("SLURM_JOB_NUM_NODES"), env.get("SLURM_CPUS_PER_TASK")
    if nodes is None or cpus is None:
        job = _scontrol_job(job_id)
        nodes = nodes or job.get("NumNodes", "").split("-")[0] or None
        cpus = cpus or job.get("CPUs/Task") or None
    return {"nodes": int(nodes) if nodes else None, "cpus_per_task": int(cpus) if cpus else None}


def gpus_per_node(gpus: int, nodes: int) -> int:
    """The GPUs of each node: the job's total over its nodes (an even split, or an error)."""
    if nodes > 1 and gpus % nodes:
        raise ValueError(f"--gpus {gpus} (the job's total) does not split evenly over {nodes} nodes")
    return gpus // nodes if nodes > 1 else gpus


def node_tasks_command(
    launcher_args: list[str], gpus: int, nodes: int, cpus_per_task: int | None = None, *, python: str = "python"
) -> tuple[list[str], dict[str, str]]:
    """(argv, environment) that start one launcher task per node of the job: srun inside the
    allocation, overlapping the step this runs in (which holds the first node's GPUs and
    CPUs), each task with its node's GPUs and CPUs. The environment drops the step-level
    SLURM_* variables this process inherited (its one task, one node and GPUs would
    override the flags), as Snakemake's jobstep plugin does for the job's own step."""
    per_node = gpus_per_node(gpus, nodes)
    cmd = ["srun", "--overlap", "--kill-on-bad-exit=1", "--nodes", str(nodes), "--ntasks", str(nodes)]
    cmd += ["--ntasks-per-node", "1"]
    if per_node:
        cmd += ["--gpus-per-node", str(per_node)]
    if cpus_per_task:
        cmd += ["--cpus-per-task", str(cpus_per_task)]
    env = {k: v for k, v in os.environ.items() if not (k.startswith("SLURM_") and k not in KEEP_SLURM)}
    env = {k: v for k, v in env.items() if not k.startswith(("SRUN_", "SBATCH_"))}
    env[NODE_TASK_ENV] = "1"
    return cmd + [python, "-m", "ossinstruct.train.launch", *launcher_args], env


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


def is_node_task(nodes: int) -> bool:
    """Whether this process is one of the per-node tasks (started by `node_tasks_command`,
    or by a user's own ``srun --ntasks-per-node=1``): then it launches its node's share."""
    env = os.environ
    if env.get(NODE_TASK_ENV) == "1":
        return True
    return env.get("SLURM_STEP_NUM_NODES") == str(nodes) and env.get("SLURM_STEP_NUM_TASKS") == str(nodes)


def main(argv: list[str] | None = None) -> int:
    """Build the command for this node and run it (exec: signals reach the launcher)."""
    parser = argparse.ArgumentParser(
        prog="python -m ossinstruct.launch", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--gpus", type=int, required=True, help="GPUs of the job, every node together (the train rule's gpu)"
    )
    parser.add_argument("--nodes", type=int, help="nodes of the job (default: SLURM's allocation, else 1)")
    parser.add_argument("--cpus-per-task", type=int, help="CPUs of each node task (default: SLURM's allocation)")
    parser.add_argument("--strategy", choices=STRATEGIES, default="ddp")
    parser.add_argument("--main-process-port", type=int)
    parser.add_argument("--dry-run", action="store_true", help="print the command only")
    parser.add_argument(
        "train_args", nargs=argparse.REMAINDER, help="arguments of `python -m ossinstruct train` (after --)"
    )
    args = parser.parse_args(argv)
    train_args = args.train_args[1:] if args.train_args[:1] == ["--"] else args.train_args
    job = allocation() if args.nodes is None else {}
    nodes = args.nodes or job.get("nodes") or 1
    if nodes > 1 and not is_node_task(nodes):
        if args.cpus_per_task is None and "cpus_per_task" not in job:
            job = allocation()
        again = ["--gpus", str(args.gpus), "--nodes", str(nodes), "--strategy", args.strategy]
        if args.main_process_port:
            again += ["--main-process-port", str(args.main_process_port)]
        cmd, env = node_tasks_command(
            [*again, "--", *train_args],
            args.gpus,
            nodes,
            args.cpus_per_task or job.get("cpus_per_task"),
            python=sys.executable,
        )
    else:
        per_node = gpus_per_node(args.gpus, nodes)
        cmd = launch_command(train_args, per_node, nodes, args.strategy, args.main_process_port, python=sys.executable)
        env = None
    if args.dry_run:
        print(" ".join(cmd))
        return 0
    sys.stdout.flush()
    if env is None:
        os.execvp(cmd[0], cmd)
    os.execvpe(cmd[0], cmd, env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
