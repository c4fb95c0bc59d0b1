"""A run's command-line overrides: a trial's, a confirmation run's, an ablation step's, each
with the sweep's fidelity, so every run trains exactly as the trial it stands for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna

from cnnsweep.sweep.settings.frozen import SweepSettings
from cnnsweep.sweep.settings.space import override_for


def trial_overrides(
    settings: SweepSettings, trial: optuna.trial.Trial | optuna.trial.FrozenTrial
) -> list[str]:
    """A trial's command-line overrides: fixed ones, its values, its seed and (a sweep with a
    fidelity) its subset epochs. Its saved config and the best trial's command both come
    from these, so the command trains exactly what the trial trained."""
    overrides = list(settings.space.fixed)
    overrides += [override_for(key, value) for key, value in trial.params.items()]
    if "trainer.seed" not in trial.params and not any(o.startswith("trainer.seed=") for o in overrides):
        overrides.append(f"trainer.seed={settings.run.trial_seed(trial.number)}")
    return with_fidelity(settings, overrides)


def seeded_overrides(
    settings: SweepSettings, trial: optuna.trial.Trial | optuna.trial.FrozenTrial, seed: int
) -> list[str]:
    """The trial's overrides with ``seed`` in place of its own (a confirmation run)."""
    return [
        *(o for o in trial_overrides(settings, trial) if not o.startswith("trainer.seed=")),
        f"trainer.seed={seed}",
    ]


def config_overrides(settings: SweepSettings, params: Mapping[str, Any], seed: int) -> list[str]:
    """The overrides of a configuration that no trial ran (a step of the ablation path): the
    fixed ones, ``params`` for the searched keys, ``seed``, and the sweep's fidelity, so it
    trains exactly as a trial with those values would."""
    overrides = [o for o in settings.space.fixed if not o.startswith("trainer.seed=")]
    overrides += [override_for(key, value) for key, value in params.items()]
    overrides.append(f"trainer.seed={seed}")
    return with_fidelity(settings, overrides)


def with_fidelity(settings: SweepSettings, overrides: list[str]) -> list[str]:
    """``overrides`` with the sweep's fidelity as their subset epochs (as they are without one)."""
    if not settings.fidelity:
        return overrides
    kept = [o for o in overrides if not o.startswith("trainer.subset_epochs=")]
    return [*kept, subset_epochs_override(settings.fidelity)]


def subset_epochs_override(fidelity: tuple[float, ...]) -> str:
    """The override that gives a trial the sweep's fidelity: ``trainer.subset_epochs=[0.1,0.3]``."""
    return f"trainer.subset_epochs=[{','.join(map(str, fidelity))}]"
