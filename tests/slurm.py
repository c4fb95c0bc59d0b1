"""A throwaway single-node SLURM cluster from Debian's ``slurm-wlm`` and ``munge``, for the
SLURM tests: this machine is both controller and compute node, everything else in a
temporary folder. It needs root (``SlurmUser=root``), as in CI.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MUNGE_SOCKET = Path("/run/munge/munge.socket.2")


def slurm_available() -> bool:
    return (
        all(shutil.which(tool) for tool in ("slurmctld", "slurmd", "sbatch", "munged")) and os.getuid() == 0
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """A running cluster: the environment its commands need, and its logs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.conf = root / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        self.jobcomp_log = root / "jobcomp.log"

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            list(command), env=self.env, capture_output=True, text=True, timeout=60, check=check
        )

    def queue(self) -> list[str]:
        """Job ids in the queue (pending or running)."""
        return self.run("squeue", "-h", "-o", "%i").stdout.split()

    def wait_until_empty(self, timeout: float = 120) -> None:
        until = time.monotonic() + timeout
        while self.queue():
            assert time.monotonic() < until, f"jobs left in the queue: {self.queue()}"
            time.sleep(0.5)

    def ended_jobs(self) -> list[dict[str, str]]:
        """The job completion log: one mapping per ended job (JobId, JobState, ...)."""
        if not self.jobcomp_log.exists():
            return []
        return [
            dict(field.split("=", 1) for field in line.split() if "=" in field)
            for line in self.jobcomp_log.read_text().splitlines()
            if line.strip()
        ]


def _config(root: Path, host: str, cpus: int) -> str:
    return f"""\
ClusterName=cnnsweep-test
SlurmctldHost={host}
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
JobCompType=jobcomp/filetxt
JobCompLoc={root}/jobcomp.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
KillWait=5
MinJobAge=600
NodeName={host} CPUs={cpus} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def _start_munge() -> subprocess.Popen | None:
    """munged, unless one already answers; returns the process this call started."""
    if (
        MUNGE_SOCKET.exists()
        and subprocess.run("munge -n | unmunge", shell=True, capture_output=True).returncode == 0
    ):
        return None
    MUNGE_SOCKET.parent.mkdir(parents=True, exist_ok=True)
    key = Path("/etc/munge/munge.key")
    if not key.exists():
        subprocess.run(["mungekey", "--create", "--keyfile", str(key)], check=True, capture_output=True)
        os.chmod(key, 0o600)
    process = subprocess.Popen(
        ["munged", "--foreground", "--force"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    until = time.monotonic() + 20
    while subprocess.run("munge -n | unmunge", shell=True, capture_output=True).returncode != 0:
        assert time.monotonic() < until and process.poll() is None, "munged did not start"
        time.sleep(0.2)
    return process


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    """Start munged (if needed), slurmctld and slurmd; yield the cluster; stop and delete it."""
    root = Path(tempfile.mkdtemp(prefix="cnnsweep-slurm-"))
    for folder in ("state", "spool"):
        (root / folder).mkdir()
    host = socket.gethostname().split(".")[0]
    cluster = Cluster(root)
    cluster.conf.write_text(_config(root, host, os.cpu_count() or 2))
    munge = _start_munge()
    daemons: list[subprocess.Popen] = []
    try:
        for daemon in ("slurmctld", "slurmd"):
            daemons.append(
                subprocess.Popen(
                    [daemon, "-D", "-f", str(cluster.conf)],
                    env=cluster.env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        until = time.monotonic() + 60
        while "idle" not in cluster.run("sinfo", "-h", "-o", "%T", check=False).stdout:
            assert time.monotonic() < until, (root / "slurmctld.log").read_text()[-2000:]
            assert all(d.poll() is None for d in daemons), "a SLURM daemon exited; see " + str(root)
            time.sleep(0.3)
        yield cluster
    finally:
        if shutil.which("scancel"):
            cluster.run("scancel", "--user=root", check=False)
        for daemon in reversed(daemons):
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                daemon.kill()
        if munge is not None:
            munge.terminate()
            munge.wait(timeout=20)
        shutil.rmtree(root, ignore_errors=True)
