"""evalplus's check of one sample, as a sandbox handler.

Runs inside a sandbox job (ossinstruct.sandbox.pool), never in the pipeline's
process: the zygote imports this module once (evalplus takes ~2 s to import), each job
calls `check` in a fresh forked process. The check itself is evalplus's own
`untrusted_check`, the function `evalplus.evaluate` runs, with the same arguments
(fast_check, evalplus's time-limit rule from the canonical solution's running times), so a
sample scores as evalplus scores it.
"""

from __future__ import annotations

import os

from evalplus.eval import PASS, untrusted_check

# Status of the plus tests when the base tests already failed: evalplus would run them,
# but a sample passes HumanEval+/MBPP+ only if it passes both, so the answer is known.
SKIPPED = "skipped"


def check(context: dict, payload: dict) -> dict:
    # evalplus's executor sets its own address-space limit from this variable; it must not
    # exceed the sandbox's hard limit, which it cannot raise.
    os.environ["EVALPLUS_MAX_MEMORY_BYTES"] = str(context["memory_bytes"])
    problem, expected = payload["problem"], payload["expected"]
    result = {}
    for kind in ("base", "plus"):
        if kind == "plus" and result["base"]["status"] != PASS:
            result[kind] = {"status": SKIPPED, "n_tests": len(problem["plus_input"]), "n_run": 0}
            continue
        status, details = untrusted_check(
            context["dataset"],
            payload["solution"],
            problem[f"{kind}_input"],
            problem["entry_point"],
            expected=expected[kind],
            atol=problem["atol"],
            ref_time=expected[f"{kind}_time"],
            fast_check=True,
            min_time_limit=context["min_time_limit"],
            gt_time_limit_factor=context["gt_time_limit_factor"],
        )
        result[kind] = {"status": status, "n_tests": len(problem[f"{kind}_input"]), "n_run": len(details)}
    return result
