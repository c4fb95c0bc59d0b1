"""The lesson's shapes: the plan's quantities in words, their slopes and the two-way tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml

from cnnsweep.analysis import shapes
from cnnsweep.architecture import plan_architecture


def _seed_model(**values):
    return yaml.safe_load(open("conf/model/seed.yaml").read()) | values


def test_the_lessons_example_in_words():
    # padding=valid with kernel 5 shrinks 28 to 24 before pooling; Flatten sees 12x12x32 = 4,608
    model = _seed_model(filters=32, kernel_size=5, padding="valid")
    plan = plan_architecture(model, (28, 28, 1), 10)
    assert plan.flatten_shape == (12, 12, 32) and plan.flatten_values == 4608
    assert plan.receptive_field == 5 and plan.block_sides == (12,)
    assert plan.macs_per_image == 24 * 24 * 32 * 5 * 5 + 4608 * 10
    words = shapes.describe_plan(plan, model)
    assert "the first convolution takes 28 to 24, block 1 ends at 12" in words
    assert "Flatten sees 12x12x32 = 4,608 values" in words and "5x5 input pixels" in words
    same = plan_architecture(_seed_model(filters=32, kernel_size=5, padding="same"), (28, 28, 1), 10)
    assert same.flatten_values == 14 * 14 * 32 and "keeps 28 at 28" in shapes.describe_plan(same, model)


def test_the_receptive_field_grows_with_kernels_strides_and_pooling():
    model = dict(
        _seed_model(), conv_blocks=2, convs_per_block=2, kernel_size=3, strides=1, padding="same", pool_size=2
    )
    # block 1: 3, 5; pool (step 2): 6; block 2: 5 + ... = 6 + 2*2 = 10, 14
    assert plan_architecture(model, (28, 28, 1), 10).receptive_field == 14


def test_a_quantitys_slope_per_doubling_is_the_least_squares_slope_on_its_log2():
    table = pd.DataFrame(
        {"flatten_values": [1000, 2000, 4000, 8000, 16000], "objective": [0.80, 0.82, 0.84, 0.86, 0.88]}
    )
    (row,) = [e for e in shapes.quantity_effects(table) if e.key == "flatten_values"]
    assert row.effect == pytest.approx(0.02) and row.view == "shape" and row.trials == 5
    assert row.ci95_lo == pytest.approx(0.02) and row.ci95_hi == pytest.approx(0.02)  # a perfect line


def test_two_way_tables_give_cell_means_with_intervals_and_mark_cells_that_cannot_be_built():
    rng = np.random.default_rng(0)
    rows = []
    for n, (kernel, padding) in enumerate([(k, p) for k in (2, 5, 9) for p in ("valid", "same")] * 3):
        state = "infeasible" if (kernel, padding) == (9, "valid") else "complete"
        score = None if state == "infeasible" else 0.8 + 0.01 * kernel + rng.normal(0, 0.001)
        rows.append(
            {
                "trial_number": n,
                "state": state,
                "model.kernel_size": kernel,
                "model.padding": padding,
                "objective": score,
            }
        )
    trials = pd.DataFrame(rows)
    analysed = trials[trials["state"] == "complete"]
    cells = shapes.two_way_tables(trials, analysed, ["model.kernel_size", "model.padding"])
    assert {c.table for c in cells} == {"kernel_size x padding"} and len(cells) == 6
    blocked = [c for c in cells if c.row_value == "9" and c.column_value == "valid"]
    assert blocked[0].note == shapes.CANNOT_BE_BUILT and blocked[0].infeasible == 3
    five_same = next(c for c in cells if c.row_value == "5" and c.column_value == "same")
    inside = (analysed["model.kernel_size"] == 5) & (analysed["model.padding"] == "same")
    values = analysed[inside]["objective"]
    assert five_same.trials == 3 and five_same.mean_objective == pytest.approx(values.mean())
    assert five_same.ci95_lo < five_same.mean_objective < five_same.ci95_hi
    grid = shapes.pivot(cells, "kernel_size x padding", points=True)
    assert grid.loc["9", "valid"] == shapes.CANNOT_BE_BUILT and grid.loc["5", "same"].endswith("(3)")
    assert not math.isnan(five_same.ci95_hi)
