"""Synthetic trial tables shaped like the sweep files' spaces, for the effects' simulations.

A *uniform* design draws every key on its own, as the random sampler does; a
*concentrated* one draws like a sampler that has found a region it likes: each key
leans to one value, and (``paired``) one key follows another most of the time, so
a key that does nothing rides along with one that matters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DEEP_CNN = {  # sweeps/deep_cnn.yaml
    "model.conv_blocks": [2, 3],
    "model.convs_per_block": [1, 2],
    "model.filters": [16, 32, 48],
    "model.batch_norm": [True, False],
    "model.dense_units": [64, 128, 256],
    "model.dropout": ("interval", 0.1, 0.5),
    "trainer.learning_rate": ("log", 0.0005, 0.005),
    "trainer.batch_size": [64, 128, 256],
}
SEED_CNN = {  # sweeps/seed_cnn.yaml
    "model.filters": [16, 32, 64, 128],
    "model.kernel_size": [2, 3, 5],
    "model.strides": [1, 2],
    "model.padding": ["valid", "same"],
    "trainer.batch_size": [16, 32, 64, 128],
}
SPACES = {"deep_cnn": DEEP_CNN, "seed_cnn": SEED_CNN}


def draw_trials(
    space: dict,
    n: int,
    rng: np.random.Generator,
    *,
    concentrated: bool = False,
    paired: tuple[str, str] | None = None,
) -> pd.DataFrame:
    """``n`` trials' searched values; ``paired=(leader, follower)`` makes the follower's value
    track the leader's (both binary) in 80% of the trials."""
    columns = {}
    for key, choices in space.items():
        if isinstance(choices, tuple):
            kind, low, high = choices
            if kind == "log":
                values = np.exp(rng.uniform(np.log(low), np.log(high), n))
            else:
                values = rng.uniform(low, high, n)
            if concentrated:  # most trials near a favourite point
                values = np.where(rng.random(n) < 0.6, values.min() + 0.25 * (values - values.min()), values)
            columns[key] = values
        else:
            weights = np.ones(len(choices))
            if concentrated:
                weights[rng.integers(len(choices))] = 3.0
            index = rng.choice(len(choices), size=n, p=weights / weights.sum())
            columns[key] = pd.Series([choices[i] for i in index], dtype=object)
    table = pd.DataFrame(columns)
    if paired is not None:
        leader, follower = paired
        lead_choices, follow_choices = space[leader], space[follower]
        follows = rng.random(n) < 0.8
        mapped = table[leader].map(lambda v: follow_choices[lead_choices.index(v)])
        table[follower] = np.where(follows, mapped, table[follower]).astype(object)
    return table


def objective(
    table: pd.DataFrame, rng: np.random.Generator, effects: dict | None = None, noise: float = 0.01
) -> pd.Series:
    """0.9 plus ``noise``-sized normal noise, plus ``effects[key][value]`` noise SDs per trial."""
    y = 0.9 + rng.normal(0, noise, len(table))
    for key, by_value in (effects or {}).items():
        shift = table[key].map(lambda v, by_value=by_value: by_value.get(v, 0.0)).to_numpy(dtype=float)
        y = y + noise * shift
    return pd.Series(y, index=table.index)
