"""Every form of password a storage or tracking URL may carry is masked, wherever it stands."""

from __future__ import annotations

import pytest

from cnnsweep.masking import mask_password

FORMS = [
    ("postgresql://ann:hunter2@db:5432/x", "postgresql://ann:***@db:5432/x"),
    ("postgresql://ann:s3cr@t@db:5432/x", "postgresql://ann:***@db:5432/x"),  # an "@" in it
    ("postgresql://:hunter2@db/x", "postgresql://:***@db/x"),  # no user
    ("postgresql://ann:a/b@db/x", "postgresql://ann:***@db/x"),  # an unescaped "/"
    ("postgresql+psycopg://ann:pw@db/x", "postgresql+psycopg://ann:***@db/x"),
    ("postgresql://ann@db/x?password=hunter2", "postgresql://ann@db/x?password=***"),
    (
        "postgresql://db/x?sslmode=require&password=hunter2&x=1",
        "postgresql://db/x?sslmode=require&password=***&x=1",
    ),
    ("host=db user=ann password=hunter2 dbname=x", "host=db user=ann password=*** dbname=x"),
    ("mysql://ann:hunter2@db/x", "mysql://ann:***@db/x"),
    ("http://ann:hunter2@mlflow:5000", "http://ann:***@mlflow:5000"),
    # a database error quoting the URL, and a line with two of them
    (
        'connection to "postgresql://ann:hunter2@db/x" failed: FATAL',
        'connection to "postgresql://ann:***@db/x" failed: FATAL',
    ),
    (
        "from postgresql://a:one@h1/x to postgresql://b:two@h2/y",
        "from postgresql://a:***@h1/x to postgresql://b:***@h2/y",
    ),
]
UNTOUCHED = [
    "sqlite:////tmp/optuna.db",
    "sqlite:///relative.db",
    "http://mlflow:5000/api",
    "/sweeps/a/optuna.journal",
    "postgresql://ann@db/x",
    "file:///tmp/mlruns",
    "trial 3 failed: user@example.com wrote x:y",
]


@pytest.mark.parametrize(("given", "masked"), FORMS)
def test_each_form_of_password_is_masked(given, masked):
    assert mask_password(given) == masked
    assert "hunter2" not in mask_password(given) and "one@" not in mask_password(given)


@pytest.mark.parametrize("text", UNTOUCHED)
def test_text_without_a_password_is_left_as_it_is(text):
    assert mask_password(text) == text
