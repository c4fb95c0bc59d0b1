"""Datasets: what is known about each (:mod:`.catalog`), where its files are
(:mod:`.sources`), how the official formats are read (:mod:`.formats`), the
decoded-array cache (:mod:`.cache`), and loading with checks (:mod:`.loader`).

This package file imports nothing, so ``cnnsweep.data.catalog`` stays light for
the config checks and the report.
"""
