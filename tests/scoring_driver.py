"""A scoring job as its own process, for tests/test_incremental_scoring.py to kill midway.

    python tests/scoring_driver.py '{"benchmark": "multipl-e-greedy", "dir": DIR, "log": LOG,
                                     "settings": {...}, "workers": 1}'

Scores DIR/samples.jsonl against DIR/tasks.jsonl, info.json and expected.json with the
execution cache DIR/cache, through the scoring rules' step function
(ossinstruct.evaluate.steps.eval_score_step), and writes DIR/result.json. It counts the
programs it sends to the sandbox: every SandboxPool.run appends "submitted N" to LOG, and
"done I" after the caller's on_result for job I returned (each line flushed and fsynced,
so a SIGKILL loses none), which is how a test counts executions from outside. Like a
rule's job it runs under ossinstruct.logs.logged_job, so SIGTERM unwinds it.
"""

import json
import os
import sys


def main() -> int:
    request = json.loads(sys.argv[1])
    from ossinstruct.sandbox.pool import SandboxPool

    log = open(request["log"], "a", encoding="utf-8")  # noqa: SIM115 - open for the process's life

    def note(line: str) -> None:
        log.write(line + "\n")
        log.flush()
        os.fsync(log.fileno())

    original = SandboxPool.run

    def counted(self, payloads, on_done=None, on_result=None):
        note(f"submitted {len(payloads)}")

        def reported(index, result):
            on_result(index, result)
            note(f"done {index}")

        return original(self, payloads, on_done, **({"on_result": reported} if on_result is not None else {}))

    SandboxPool.run = counted
    from ossinstruct.evaluate.steps import eval_score_step
    from ossinstruct.logs import logged_job

    work = request["dir"]
    with logged_job(None, "scoring driver"):  # as a rule's job: SIGTERM unwinds and closes the pool
        eval_score_step(
            request["benchmark"],
            model="toy",
            samples_path=os.path.join(work, "samples.jsonl"),
            tasks_path=os.path.join(work, "tasks.jsonl"),
            info_path=os.path.join(work, "info.json"),
            expected_path=os.path.join(work, "expected.json"),
            out_result=os.path.join(work, "result.json"),
            out_tasks=os.path.join(work, "result.tasks.jsonl"),
            workers=request.get("workers", 1),
            generation={},
            settings=request.get("settings") or {},
            execution_cache=os.path.join(work, "cache"),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
