"""A trial's Hydra job run in the sweep's process leaves what Hydra's own ``run_job`` leaves."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hydra._internal.callbacks import Callbacks
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobStatus, run_job
from hydra.types import HydraContext
from omegaconf import OmegaConf, open_dict

from cnnsweep.sweep.hydra_job import run_trial_job
from tests.sweep.composed import sweep_config


def _job_config(sweep_dir: Path, chdir: bool = False):
    config = sweep_config("model.filters=8", sweep_dir=str(sweep_dir))
    with open_dict(config):
        config.hydra.job.id = config.hydra.job.num = 3
        config.hydra.overrides.task = ["model.filters=8", "trainer.seed=3"]
        config.hydra.job.env_set = {"CNNSWEEP_JOB_ENV": "set"}
        config.hydra.job.chdir = chdir
    return config


def _seen(cfg):
    """What the task sees of its job."""
    runtime = HydraConfig.get().runtime
    return {
        "config": OmegaConf.to_yaml(cfg),
        "struct": OmegaConf.is_struct(cfg),
        "keys": list(cfg),
        "output_dir": runtime.output_dir,
        "num": HydraConfig.get().job.num,
        "cwd": os.getcwd(),
        "env": os.environ.get("CNNSWEEP_JOB_ENV"),
    }


def _run(runner, tmp_path, chdir=False, task=_seen):
    config = _job_config(tmp_path / "sweep", chdir)
    before = HydraConfig.instance().cfg
    context = HydraContext(config_loader=None, callbacks=Callbacks(config))  # type: ignore[arg-type]
    if runner is run_job:
        job = run_job(task, config, "hydra.sweep.dir", "hydra.sweep.subdir", context)
    else:
        job = runner(context, task, config)
    assert HydraConfig.instance().cfg is before  # the sweep's own Hydra config is back
    folder = tmp_path / "sweep" / "3"
    files = {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }
    shutil.rmtree(folder)
    return job, files


@pytest.mark.parametrize("chdir", [False, True])
def test_a_trials_job_is_what_hydras_run_job_makes_of_it(tmp_path, chdir):
    cwd = os.getcwd()
    hydras, hydras_files = _run(run_job, tmp_path, chdir)
    ours, our_files = _run(run_trial_job, tmp_path, chdir)
    assert os.getcwd() == cwd and os.environ.get("CNNSWEEP_JOB_ENV") is None
    assert ours.status == hydras.status == JobStatus.COMPLETED
    assert ours.return_value == hydras.return_value  # what the task saw, its cwd and env included
    assert ours.return_value["output_dir"] == str(tmp_path / "sweep" / "3") and ours.return_value["struct"]
    assert ours.return_value["cwd"] == (str(tmp_path / "sweep" / "3") if chdir else cwd)
    assert ours.return_value["env"] == "set" and "hydra" not in ours.return_value["keys"]
    assert (ours.overrides, ours.working_dir, ours.task_name) == (
        hydras.overrides,
        hydras.working_dir,
        hydras.task_name,
    )
    assert OmegaConf.to_yaml(ours.hydra_cfg) == OmegaConf.to_yaml(hydras.hydra_cfg)
    assert set(our_files) >= {".hydra/config.yaml", ".hydra/hydra.yaml", ".hydra/overrides.yaml"}
    assert our_files == hydras_files  # .hydra/ byte for byte, and the job's log file


def test_a_task_that_raises_is_a_failed_job_as_in_hydra(tmp_path):
    def broken(cfg):
        raise ValueError("no")

    hydras, _ = _run(run_job, tmp_path, task=broken)
    ours, _ = _run(run_trial_job, tmp_path, task=broken)
    assert ours.status == hydras.status == JobStatus.FAILED
    with pytest.raises(ValueError, match="no"):
        ours.return_value  # noqa: B018 - raises the task's exception
