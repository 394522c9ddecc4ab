"""DS-1000: plugin.py (two registered benchmarks, ds1000 and ds1000-insertion);
environment.py (its pinned interpreter, the scoring of samples under it); execute.py (the
sandbox handler, run by that interpreter: the standard library only); downloads.py (the
datasets some problems download, fetched once: `make ds1000-data`); fixtures/."""
