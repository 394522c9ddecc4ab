"""`python -m ossinstruct.launch`: kept as an entry point; the launcher is
ossinstruct.train.launch."""

import sys

from ossinstruct.train.launch import *  # noqa: F403 - the old import path keeps working
from ossinstruct.train.launch import main

if __name__ == "__main__":
    sys.exit(main())
