"""The datasets a few DS-1000 problems download at run time, fetched once into a directory
the sandbox reads them from (it has no network): seaborn's example datasets penguins,
tips, exercise and planets (GitHub, 14 Matplotlib problems) and scikit-learn's California
housing (figshare, one problem).

    python -m ossinstruct.benchmarks.ds1000.downloads DIRECTORY    # in DS-1000's interpreter

(`make ds1000-data` runs it with .venv-ds1000 into .ds1000-data.) Scoring then sets
SEABORN_DATA and SCIKIT_LEARN_DATA to that directory (ossinstruct.benchmarks.ds1000.environment).
"""

from __future__ import annotations

import json
import os
import sys

from ossinstruct.benchmarks.ds1000.execute import SEABORN_DATASETS


def fetch_data(directory: str) -> dict:
    """Download the datasets into directory; returns {dataset: file}."""
    import seaborn
    import sklearn.datasets

    os.makedirs(directory, exist_ok=True)
    fetched = {}
    for name in SEABORN_DATASETS:
        seaborn.load_dataset(name, data_home=directory)
        fetched[name] = os.path.join(directory, f"{name}.csv")
    sklearn.datasets.fetch_california_housing(data_home=directory)
    fetched["california_housing"] = os.path.join(directory, "cal_housing.pkz")
    return fetched


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m ossinstruct.benchmarks.ds1000.downloads DIRECTORY")
    print(json.dumps(fetch_data(sys.argv[1])))
