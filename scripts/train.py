"""Snakemake entry point of rule train: fine-tuning on the job's GPUs.

Runs `python -m ossinstruct.launch` (accelerate launch, or one training process), which
imports ossinstruct from this checkout, found at run time (scripts/_checkout.py) rather than
passed in params: another checkout of the same code retrains nothing. Everything the
launcher and every training process print (progress, a failure's traceback and cause,
another rank's crash) goes into the rule's log file, the command first. A cancelled job
(SIGTERM from SLURM or Snakemake) passes the signal on; the trainer checkpoints under
work_dir stay, and the next run resumes from them. Then the loss curve's copy for the report.
"""

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys

import _checkout

from ossinstruct.workflow import train_config, train_launch_command

sm = snakemake  # noqa: F821 - injected by Snakemake
command = train_launch_command(
    sys.executable,
    gpus=sm.resources.gpu,
    strategy=sm.params.strategy,
    # Every field, checkpoint cadence and logging included (the params hold all but those).
    config_json=json.dumps(train_config(sm.config, sm.wildcards.checkpoint), sort_keys=True),
    train_file=sm.input.train,
    output_dir=sm.output.model,
    work_dir=sm.params.work_dir,
    logging_dir=sm.params.logging_dir,
)
env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_checkout.CHECKOUT, os.environ.get("PYTHONPATH")]))}
with open(sm.log[0], "w") as log:
    log.write(f"launching: {shlex.join(command)}\n")
    log.flush()
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda received, frame: process.send_signal(received))
    status = process.wait()
if status:
    sys.exit(128 - status if status < 0 else status)
shutil.copy(os.path.join(sm.output.model, "loss_curve.png"), sm.output.loss_curve)
