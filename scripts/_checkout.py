"""Imported first by every script: puts this checkout's `ossinstruct` on sys.path.

Snakemake adds scripts/ to sys.path; the package itself need not be installed in the
job's environment (a per-rule conda env holds only the dependencies). The checkout is
found from this file at run time, never passed in params: another checkout of the same
code has the same rule identity.
"""

import sys
from pathlib import Path

CHECKOUT = str(Path(__file__).resolve().parent.parent)
sys.path.insert(0, CHECKOUT)
