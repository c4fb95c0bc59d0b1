"""Local worker processes: what each is told (its share of the machine, the storage URL),
its command, Ctrl-C, and the supervision that replaces a crashed one."""

from __future__ import annotations

import logging
import os
import signal
import sys

import pytest

from cnnsweep import exits
from cnnsweep.sweep.workers.env import STORAGE_VAR, WorkerEnv, local_workers, worker_command
from cnnsweep.sweep.workers.interrupts import StopRequest
from cnnsweep.sweep.workers.local import LocalProcesses
from tests.sweep.composed import sweep_settings


def _envs(n_jobs, cpus, gpus, base=None):
    return [w.encode(base or {}) for w in local_workers(n_jobs, cpus, gpus, "sqlite:///s.db", None)]


def test_workers_split_the_cpu_threads_and_share_gpus_round_robin():
    cpu_only = _envs(2, 16, 0, {"PATH": "/bin"})
    assert [e["TF_NUM_INTRAOP_THREADS"] for e in cpu_only] == ["8", "8"]
    assert all("CUDA_VISIBLE_DEVICES" not in e and e["PATH"] == "/bin" for e in cpu_only)
    three_on_two = _envs(3, 16, 2)
    assert [e["CUDA_VISIBLE_DEVICES"] for e in three_on_two] == ["0", "1", "0"]
    for n_jobs in range(2, 9):  # workers sharing a GPU split it evenly and leave it headroom
        for gpus in range(1, 4):
            envs = _envs(n_jobs, 16, gpus)
            for gpu in map(str, range(gpus)):
                shares = [
                    float(e.get("XLA_PYTHON_CLIENT_MEM_FRACTION", 1.0))
                    for e in envs
                    if e["CUDA_VISIBLE_DEVICES"] == gpu
                ]
                if len(shares) > 1:
                    assert sum(shares) <= 0.95 and min(shares) >= 0.8 / len(shares), shares
    one_each = _envs(2, 16, 2)[0]
    assert "XLA_PYTHON_CLIENT_MEM_FRACTION" not in one_each  # a GPU of its own keeps the default
    assert (
        _envs(4, 16, 1, {"XLA_PYTHON_CLIENT_MEM_FRACTION": "0.3"})[0]["XLA_PYTHON_CLIENT_MEM_FRACTION"]
        == "0.3"
    )  # the user's setting wins


def test_what_a_worker_is_told_is_what_it_reads_back():
    told = WorkerEnv(
        storage_url="postgresql://u:pw@h/db",
        deadline=1790000000.25,
        worker_id="slurm-17",
        index=2,
        workers_here=3,
        threads=4,
        gpu=1,
        gpu_sharing=2,
    )
    back = WorkerEnv.decode(told.encode({"PATH": "/bin"}))
    assert back == told.replace(gpu_sharing=1)  # the sharing is spent on the memory fraction
    assert WorkerEnv.decode({}) == WorkerEnv()  # a process nobody told anything: a sweep's own
    assert back.marks_trials_as == "slurm-17" and not back.watches_its_parent
    local = WorkerEnv.decode(local_workers(2, 8, 0, "sqlite:///s.db", None)[1].encode())
    assert local.marks_trials_as == os.getpid() and local.watches_its_parent and local.index == 1
    assert local.deadline is None and local.workers_here == 2 and local.storage_url == "sqlite:///s.db"


def test_worker_command_takes_the_storage_url_from_the_environment_only():
    argv = [
        "--multirun",
        "+sweep=seed_cnn",
        "hydra.sweeper.storage=postgresql://u:secret@h/db",
        "hydra.sweep.dir=/old",
        "hydra.sweeper.n_jobs=4",
    ]
    command = worker_command(argv, "/sweeps/a", "fmnist")
    assert not any("secret" in part for part in command)
    assert f"hydra.sweeper.storage=${{oc.env:{STORAGE_VAR}}}" in command
    assert "hydra.sweep.dir=/sweeps/a" in command and "hydra.sweep.dir=/old" not in command
    assert "hydra.sweeper.n_jobs=4" in command  # one meaning on both sides: the sweep's workers
    assert not any("role" in part for part in command)  # the environment makes it a worker
    assert command[:3] == [sys.executable, "-m", "cnnsweep"]


def test_a_process_is_a_worker_because_its_environment_says_so():
    assert not WorkerEnv.decode({}).is_worker  # a sweep's own process: its coordinator
    worker = local_workers(2, 8, 0, "sqlite:///s.db", None)[0]
    assert WorkerEnv.decode(worker.encode()).is_worker


def test_the_sweep_command_is_rebuilt_from_what_hydra_parsed(tmp_path):
    settings = sweep_settings(
        "hydra.sweeper.n_trials=3", sweep_dir=str(tmp_path), arguments=["dataset=digits", "model.filters=8"]
    )
    assert settings.command[0] == "--multirun"
    assert settings.command[1:3] == ("dataset=digits", "model.filters=8")
    assert "hydra.sweeper.n_trials=3" in settings.command
    assert f"hydra.sweep.dir={tmp_path}" in settings.command


def test_ctrl_c_is_asked_at_safe_points_only():
    stop_request = StopRequest()
    stop_request.check()  # nothing asked yet
    stop_request.requested.set()
    with pytest.raises(KeyboardInterrupt):
        stop_request.check()


def test_a_crashed_worker_is_reported_once_and_replaced_while_a_clean_exit_is_not(tmp_path):
    """Real processes: one exits 0, one kills itself; the second is restarted once."""
    marker = tmp_path / "restarted"
    script = (
        f"import os, pathlib, signal; p = pathlib.Path({str(marker)!r})\n"
        "if os.environ['ROLE'] == 'crash' and not p.exists():\n"
        "    p.write_text('x'); os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    envs = [{**os.environ, "ROLE": "ok"}, {**os.environ, "ROLE": "crash"}]
    deaths = []
    processes = LocalProcesses([sys.executable, "-c", script], envs, StopRequest())
    processes.run(on_death=lambda pid, how: deaths.append(how) or True, on_tick=lambda: False)
    assert deaths == [f"signal {signal.SIGKILL}"]
    assert marker.exists() and all(p.returncode == 0 for p in processes.processes)


def test_a_worker_that_refuses_its_input_is_named_once_and_not_restarted(caplog):
    """A worker that exits with the bad-input status would refuse again: it is not a death to
    recover from, but the sweep says it goes on with one worker fewer."""
    envs = [{**os.environ, "CODE": "0"}, {**os.environ, "CODE": str(exits.USER_ERROR)}]
    deaths = []
    processes = LocalProcesses(
        [sys.executable, "-c", "import os; raise SystemExit(int(os.environ['CODE']))"], envs, StopRequest()
    )
    with caplog.at_level(logging.WARNING, logger="cnnsweep"):
        processes.run(on_death=lambda pid, how: deaths.append(how) or True, on_tick=lambda: False)
    assert deaths == []
    assert [p.returncode for p in processes.processes] == [0, exits.USER_ERROR]
    refused = [r.getMessage() for r in caplog.records if "input error" in r.getMessage()]
    assert refused == [
        f"worker process {processes.processes[1].pid} stopped on an input error (see its error above): "
        "the sweep goes on with one worker fewer"
    ]


def test_more_workers_than_the_memory_holds_are_refused_with_a_workable_count():
    from cnnsweep.errors import ConfigError
    from cnnsweep.sweep.workers.local import check_worker_count

    check_worker_count(8, 24 * 1024)  # 8 x 0.9 GB fit in 24 GB
    with pytest.raises(ConfigError) as refused:
        check_worker_count(32, 24 * 1024)
    message = str(refused.value)
    assert "n_jobs=32 would start 32 worker processes of about 900 MB each (28.1 GB" in message
    assert "on a machine with 24.0 GB of RAM. Use hydra.sweeper.n_jobs=21 or less." in message


def test_the_default_memory_limit_is_shared_among_the_workers_here():
    from cnnsweep.sweep.launch import SweepTrialHooks
    from cnnsweep.validation import machine_memory_mb, memory_limit_mb

    alone = memory_limit_mb({"memory_limit_mb": None})
    assert alone == machine_memory_mb() // 2
    told = WorkerEnv.decode(local_workers(4, 8, 0, "sqlite:///s.db", None)[0].encode())
    hooks = SweepTrialHooks(trial=None, stop=None, memory_share=told.workers_here)  # type: ignore[arg-type]
    assert memory_limit_mb({"memory_limit_mb": None}, hooks.memory_share) == alone // 4
    assert memory_limit_mb({"memory_limit_mb": 5000}, 4) == 5000  # a limit the user set is per worker
