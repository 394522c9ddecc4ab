#!/usr/bin/env bash
# A real single-node SLURM cluster for the length of one command:
#
#   bash tests/slurm/cluster.sh COMMAND [ARGS...]
#
# On Debian as root: installs slurm-wlm and munge (apt) when missing, writes a munge key,
# a slurm.conf for this machine (one node with its CPUs and memory, two GPUs as a generic
# resource) and a gres.conf under a private temporary directory, starts munged,
# slurmctld and slurmd from there, waits until the node is idle, runs COMMAND with
# SLURM_CONF pointing at that configuration, and stops the three daemons by their own pid
# files when COMMAND ends, fails or is interrupted. Exits with COMMAND's status.
# Where it cannot start a cluster (not root, not Debian, a slurm.conf already there) it
# says why and exits 0 without running COMMAND; under CI (CI=true, as .ci/run runs) that
# is a failure (exit 1): CI must run the SLURM test, not skip it.
#
# The configuration lives in the private directory. Clients find it through SLURM_CONF,
# except srun inside a job: Snakemake's jobstep plugin strips SLURM_* from its
# environment, so /etc/slurm/slurm.conf is a symlink to it for the length of the run
# (refused if a slurm.conf is already there), removed at exit (if this script is killed,
# the next run removes it once that controller is gone). Without /etc/slurm/slurm.conf, `scontrol show
# config` (which the Snakemake SLURM plugin runs at every start) fails at once instead of
# waiting ~10 s for a stopped controller: the installed packages slow no other Snakemake
# run on the machine.
#
# GPUs: no device exists here. Slurm 22.05's gres.conf(5) says "File is required for all
# gpu typed GRES" (without it slurmd reports no GPU and the node is invalid), so each GPU
# is a character device made with mknod (1:3, what /dev/null is) inside the private
# directory. Slurm schedules, counts and binds them (CUDA_VISIBLE_DEVICES) like real ones;
# no process can compute on them.
set -euo pipefail

if [[ $# -eq 0 ]]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi
# No cluster here: a skip, saying why; under CI a failure.
cannot_start() {
    case "${CI:-}" in
    1 | true | TRUE | True | yes)
        echo "SLURM cluster test FAILED under CI: $1" >&2
        exit 1
        ;;
    esac
    echo "SLURM cluster test skipped: $1"
    exit 0
}
if [[ $(id -u) -ne 0 ]]; then
    cannot_start "it installs and runs SLURM daemons, which needs root (uid $(id -u))."
fi
if [[ ! -f /etc/debian_version ]] || ! command -v apt-get >/dev/null; then
    cannot_start "it installs SLURM with apt-get, on Debian only (no /etc/debian_version or apt-get)."
fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    echo "== installing slurm-wlm and munge (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

SYSTEM_CONF=/etc/slurm/slurm.conf
if [[ -L $SYSTEM_CONF && $(readlink "$SYSTEM_CONF") == /tmp/ossinstruct-slurm.*/etc/slurm.conf ]]; then
    # Left by a run of this script that was killed: stale once its controller is gone.
    stale_pid=$(cat "$(dirname "$(dirname "$(readlink "$SYSTEM_CONF")")")/run/slurmctld.pid" 2>/dev/null || true)
    if [[ -z $stale_pid ]] || ! kill -0 "$stale_pid" 2>/dev/null; then
        rm -f "$SYSTEM_CONF"
    fi
fi
if [[ -e $SYSTEM_CONF || -L $SYSTEM_CONF ]]; then
    cannot_start "$SYSTEM_CONF exists (a configured SLURM machine?); this test does not replace it."
fi

ROOT=$(mktemp -d /tmp/ossinstruct-slurm.XXXXXX)
chmod 755 "$ROOT"
mkdir -p "$ROOT"/{etc,state,spool,log,run,munge,dev}
chmod 755 "$ROOT/munge"

# Daemons started here, stopped here only: each by the pid its own pid file names.
stop_daemons() {
    local status=$?
    trap - EXIT INT TERM
    local name pidfile pid
    # Jobs first: their slurmstepd processes would outlive slurmd.
    if [[ -s $ROOT/run/slurmctld.pid ]] && kill -0 "$(<"$ROOT/run/slurmctld.pid")" 2>/dev/null; then
        scancel --partition=ci 2>/dev/null || true
        for _ in $(seq 60); do
            [[ -z $(squeue -h -t RUNNING,COMPLETING,CONFIGURING -o %i 2>/dev/null) ]] && break
            sleep 0.5
        done
    fi
    for name in slurmd slurmctld munged; do
        pidfile="$ROOT/run/$name.pid"
        [[ -s $pidfile ]] || continue
        pid=$(<"$pidfile")
        kill -TERM "$pid" 2>/dev/null || continue
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "$name ($pid) did not stop on TERM: KILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    if [[ $status -ne 0 ]]; then
        for name in slurmctld slurmd; do
            echo "== last lines of $name.log"
            tail -n 20 "$ROOT/log/$name.log" 2>/dev/null || true
        done
    fi
    if [[ $(readlink "$SYSTEM_CONF" 2>/dev/null) == "$ROOT/etc/slurm.conf" ]]; then
        rm -f "$SYSTEM_CONF"
    fi
    rm -rf "$ROOT"
    exit "$status"
}
trap stop_daemons EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Two distinct free ports, for slurmctld and slurmd.
read -r CTLD_PORT SLURMD_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')

# This machine as one node: slurmd -C prints its CPUs, topology and memory.
NODE=$(slurmd -C | head -n 1)
NODE_NAME=$(sed -n 's/^NodeName=\([^ ]*\).*/\1/p' <<<"$NODE")
GPUS=2
for i in $(seq 0 $((GPUS - 1))); do
    mknod "$ROOT/dev/fakegpu$i" c 1 3
done

dd if=/dev/urandom of="$ROOT/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$ROOT/munge/munge.key"
SOCKET="$ROOT/munge/munge.socket"

cat >"$ROOT/etc/slurm.conf" <<EOF
ClusterName=ossinstruct-ci
SlurmctldHost=$NODE_NAME(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCKET
StateSaveLocation=$ROOT/state
SlurmdSpoolDir=$ROOT/spool
SlurmctldPidFile=$ROOT/run/slurmctld.pid
SlurmdPidFile=$ROOT/run/slurmd.pid
SlurmctldLogFile=$ROOT/log/slurmctld.log
SlurmdLogFile=$ROOT/log/slurmd.log
# No cgroups in a container: plain process tracking, no task binding or accounting.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
# Cores, memory and GPUs are all consumable: jobs are placed by what they request.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
# Finished jobs stay visible to squeue and scontrol (no slurmdbd) for an hour; a
# cancelled job's processes get 5 s between TERM and KILL.
MinJobAge=3600
KillWait=5
$NODE NodeAddr=127.0.0.1 Gres=gpu:$GPUS State=UNKNOWN
PartitionName=ci Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
cat >"$ROOT/etc/gres.conf" <<EOF
Name=gpu File=$ROOT/dev/fakegpu[0-$((GPUS - 1))]
EOF
export SLURM_CONF="$ROOT/etc/slurm.conf"
mkdir -p /etc/slurm
ln -s "$SLURM_CONF" "$SYSTEM_CONF"

echo "== starting munged, slurmctld, slurmd ($ROOT)"
munged --socket="$SOCKET" --key-file="$ROOT/munge/munge.key" --pid-file="$ROOT/run/munged.pid" \
    --log-file="$ROOT/log/munged.log" --seed-file="$ROOT/munge/munged.seed"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"

state=""
for _ in $(seq 120); do
    state=$(sinfo -h -n "$NODE_NAME" -o %t 2>/dev/null || true)
    [[ $state == idle ]] && break
    sleep 0.5
done
if [[ $state != idle ]]; then
    echo "node $NODE_NAME did not become idle within 60 s (state: ${state:-unknown})" >&2
    exit 1
fi
sinfo -N -o "%N %t cpus=%c mem=%m gres=%G"
echo "srun --gpus=1: CUDA_VISIBLE_DEVICES=$(srun --gpus=1 printenv CUDA_VISIBLE_DEVICES)"

export OSSINSTRUCT_SLURM_TEST_DIR="$ROOT"
"$@"
