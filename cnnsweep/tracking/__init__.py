"""Exporters to experiment trackers (``tracking=mlflow``): told of runs, trials and epochs.

A tracker is never the source of truth: every run's folder and the sweep's study
are. An exporter never raises; what it could not send it says, and a sweep sends
it again at its end (:mod:`cnnsweep.sweep.tracked`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cnnsweep.errors import ConfigError, UserError

KINDS = ("none", "mlflow")
# The URI schemes MLflow's tracking client accepts (a plain path is a local folder).
URI_SCHEMES = (
    "http",
    "https",
    "file",
    "sqlite",
    "postgresql",
    "mysql",
    "mssql",
    "databricks",
    "databricks-uc",
    "uc",
)


@dataclass(frozen=True)
class TrackingSettings:
    """``tracking.*`` checked: where runs go. ``uri`` None: MLflow's own default
    (``MLFLOW_TRACKING_URI``, else its local default)."""

    uri: str | None
    experiment: str | None


def tracking_settings(node: Mapping[str, Any] | None) -> TrackingSettings | None:
    """The checked ``tracking`` node; None for ``tracking=none``.

    Raises:
        ConfigError: an unknown tracker, or a blank URI or experiment.
        UserError: ``tracking=mlflow`` without MLflow installed.
    """
    if node is None or node.get("name", "none") == "none":
        return None
    name = node.get("name")
    if name not in KINDS:
        raise ConfigError(
            f"tracking.name={name!r} is not a known tracker. Use tracking=mlflow or tracking=none.",
            key="tracking",
        )
    for key in ("uri", "experiment"):
        value = node.get(key)
        if value is not None and not str(value).strip():
            raise ConfigError(
                f"tracking.{key} is empty. Give a value or null (the default).", key=f"tracking.{key}"
            )
    uri = node.get("uri")
    scheme = str(uri).split("://", 1)[0].split("+", 1)[0] if uri is not None and "://" in str(uri) else None
    if scheme is not None and scheme not in URI_SCHEMES:
        from cnnsweep.masking import mask_password

        raise ConfigError(
            f"tracking.uri={mask_password(str(uri))} is not a URI MLflow can track to "
            f"({scheme}://). Use a server (http://HOST:5000), a database "
            "(sqlite:///mlflow.db) or a folder.",
            key="tracking.uri",
        )
    import importlib.util

    if importlib.util.find_spec("mlflow") is None:
        raise UserError(
            "tracking=mlflow needs MLflow, which is not installed: "
            "pip install 'cnnsweep[mlflow]' (or drop tracking=mlflow).",
            key="tracking",
        )
    experiment = node.get("experiment")
    return TrackingSettings(
        uri=None if uri is None else str(uri), experiment=None if experiment is None else str(experiment)
    )
