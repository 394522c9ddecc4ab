"""`python -m ossinstruct.fakeserver`: kept as an entry point; the server is
ossinstruct.llm.fakeserver."""

import sys

from ossinstruct.llm.fakeserver import *  # noqa: F403 - the old import path keeps working
from ossinstruct.llm.fakeserver import main

if __name__ == "__main__":
    sys.exit(main())
