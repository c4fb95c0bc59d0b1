"""Command line: ``python -m cnnsweep [OVERRIDES]`` trains one CNN.

    python -m cnnsweep dataset=fashion_mnist trainer.epochs=2
    python -m cnnsweep --multirun +sweep=seed_cnn
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

import cnnsweep.config  # noqa: F401  (registers the schema conf/config.yaml extends)
from cnnsweep.paths import config_dir


@hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> float | None:
    from cnnsweep.hydra_glue import run_job

    return run_job(cfg)


def main() -> None:
    from cnnsweep.errors import UserError
    from cnnsweep.hydra_glue import exit_with_user_error
    from cnnsweep.preflight import check_group_choices

    try:
        check_group_choices(sys.argv[1:], config_dir())
    except UserError as exc:
        exit_with_user_error(exc)
    _hydra_main()


if __name__ == "__main__":
    main()
