"""A trial's Hydra job in the sweep's process: what Hydra's ``run_job`` does, less its copies.

``run_job`` copies a job's whole config four times: twice through
``HydraConfig.set_config`` (before and after it fills in the job's folder) and twice with
``copy.deepcopy`` (the task's config, the Hydra node it saves). A sweep's trials are many
short jobs of one template (:meth:`cnnsweep.sweep.launch.TrialLauncher._job_config`), so
here the Hydra node is copied once and its folder filled in on both sides, and the task's
config is a copy of every key but ``hydra``. Everything else is as ``run_job`` does it: the
job's folder, its ``.hydra/`` files (byte for byte Hydra's own), its logging, ``env_set``,
the Hydra callbacks, the working directory (``hydra.job.chdir``) and a :class:`JobReturn`.
"""

from __future__ import annotations

import os
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import (  # _flush_loggers: private, as run_job itself uses it
    JobReturn,
    JobRuntime,
    JobStatus,
    _flush_loggers,
    configure_log,
    env_override,
)
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write


def run_trial_job(hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> JobReturn:
    """Run ``task_function`` on ``config`` (a sweep job's composed config, ``hydra`` node
    included) in ``hydra.sweep.dir/hydra.sweep.subdir``, as Hydra's ``run_job`` would."""
    callbacks = hydra_context.callbacks
    hydra_config = HydraConfig.instance()
    before, old_cwd, chdir = hydra_config.cfg, os.getcwd(), False
    try:
        hydra_config.set_config(config)  # the job's folder may interpolate ${hydra:...}
        output_dir = os.path.join(str(config.hydra.sweep.dir), str(config.hydra.sweep.subdir))
        hydra_cfg = hydra_config.cfg
        for runtime in (config.hydra.runtime, hydra_cfg.hydra.runtime):  # type: ignore[union-attr]
            with read_write(runtime), open_dict(runtime):
                runtime.output_dir = os.path.abspath(output_dir)
        ret = JobReturn()
        ret.cfg = task_cfg = _without_hydra(config)
        ret.hydra_cfg = hydra_cfg  # type: ignore[assignment]
        ret.overrides = OmegaConf.to_container(config.hydra.overrides.task)  # type: ignore[assignment]
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        chdir = bool(config.hydra.job.chdir)  # None (version_base 1.2 and later): stay
        if chdir:
            os.chdir(output_dir)
        ret.working_dir = output_dir if chdir else os.getcwd()
        configure_log(config.hydra.job_logging, config.hydra.verbose)
        if config.hydra.output_subdir is not None:
            saved = Path(config.hydra.runtime.output_dir) / str(config.hydra.output_subdir)
            saved.mkdir(parents=True, exist_ok=True)
            for name, node in (
                ("config.yaml", task_cfg),
                ("hydra.yaml", hydra_cfg),
                ("overrides.yaml", config.hydra.overrides.task),
            ):
                (saved / name).write_text(OmegaConf.to_yaml(node), encoding="utf-8")
        with env_override(dict(config.hydra.job.env_set)):
            callbacks.on_job_start(config=config, task_function=task_function)
            try:
                ret.return_value = task_function(task_cfg)
                ret.status = JobStatus.COMPLETED
            except Exception as exc:
                ret.return_value = exc
                ret.status = JobStatus.FAILED
        ret.task_name = JobRuntime.instance().get("name")
        _flush_loggers()
        callbacks.on_job_end(config=config, job_return=ret)
        return ret
    finally:
        hydra_config.cfg = before
        if chdir:
            os.chdir(old_cwd)


def _without_hydra(config: DictConfig) -> DictConfig:
    """Every key of ``config`` but ``hydra``, copied, with the root's flags (struct mode)."""
    task_cfg = OmegaConf.masked_copy(config, [str(key) for key in config if key != "hydra"])
    OmegaConf.set_struct(task_cfg, OmegaConf.is_struct(config))
    OmegaConf.set_readonly(task_cfg, OmegaConf.is_readonly(config))
    return task_cfg
