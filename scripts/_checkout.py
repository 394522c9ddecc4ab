"""Imported first by every script: puts this checkout's `ossinstruct` on sys.path.

Snakemake adds scripts/ to sys.path; the package itself need not be installed in the
job's environment (a per-rule conda env holds only the dependencies).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
