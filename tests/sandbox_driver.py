"""Runs programs in a SandboxPool and prints the pool's isolation report and the results
as JSON: the sandbox as a separate process, so that a test can start it as another user
(tests/test_sandbox_containment.py runs it as nobody, as a cluster user gets it).

    python tests/sandbox_driver.py '{"method": "auto"|"none", "timeout_s": 20,
                                     "memory_mb": 512, "programs": [argv, ...]}'
"""

import json
import sys

from ossinstruct.sandbox import pool as sandbox
from ossinstruct.sandbox.pool import Limits, SandboxPool


def main() -> int:
    request = json.loads(sys.argv[1])
    if request["method"] == "none":
        sandbox._candidate_methods = lambda: ["none"]
    limits = Limits(timeout_s=request["timeout_s"], memory_mb=request["memory_mb"])
    with SandboxPool("ossinstruct.sandbox.handlers:run_program", limits=limits) as pool:
        results = pool.run([{"argv": argv} for argv in request["programs"]])
        isolation = pool.isolation
    print(
        json.dumps(
            {
                "isolation": isolation,
                "results": [{"status": r.status, "value": r.value, "error": r.error} for r in results],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
