"""Rebuild or compare sweep reports.

python -m cnnsweep.report multirun/2026-11-25/12-00-00
python -m cnnsweep.report SWEEP_A SWEEP_B --out comparison/
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from cnnsweep import exits
from cnnsweep.errors import UserError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cnnsweep.report",
        description="Build report.html, trials.csv, summary.md and PNG plots from sweep dirs.",
    )
    parser.add_argument("sweep_dirs", nargs="+", type=Path, metavar="SWEEP_DIR")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default: the sweep dir; ./sweep-report for several)",
    )
    parser.add_argument(
        "--no-model", action="store_true", help="skip the best model's confusion matrix and example images"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s", datefmt="%H:%M:%S")
    from cnnsweep.report.build import build_report

    try:
        report = build_report(args.sweep_dirs, args.out, with_model=not args.no_model)
    except UserError as exc:
        print(f"cnnsweep.report: error: {exc}", file=sys.stderr)
        return exits.USER_ERROR
    print(f"report: {report}")
    return exits.OK


if __name__ == "__main__":
    sys.exit(main())
