"""Named search spaces: ``sweeps/NAME.yaml`` becomes the option ``+sweep=NAME``.

cnnsweep's own sweep files ship in the package (``sweeps/`` of a checkout);
a ``sweeps/`` folder in the working directory adds the user's own, and a user
file with the same name wins. They are registered in Hydra's ConfigStore as the
group ``sweep`` with the global package, as if each began with
``# @package _global_``.
"""

from __future__ import annotations

from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from cnnsweep.paths import sweeps_dir

GROUP = "sweep"


def sweep_folders() -> list[Path]:
    folders = [sweeps_dir()]
    local = Path.cwd() / "sweeps"
    if local.resolve() != sweeps_dir().resolve():
        folders.append(local)
    return folders


def sweep_files() -> dict[str, Path]:
    """Sweep name -> file; later folders override earlier ones."""
    files: dict[str, Path] = {}
    for folder in sweep_folders():
        if folder.is_dir():
            files.update({path.stem: path for path in sorted(folder.glob("*.yaml"))})
    return files


def register_sweep_files() -> None:
    store = ConfigStore.instance()
    for name, path in sweep_files().items():
        store.store(
            group=GROUP, name=name, node=OmegaConf.load(path), package="_global_", provider="cnnsweep"
        )
