"""MultiPL-E: plugin.py (two registered benchmarks, multipl-e and multipl-e-greedy);
execution.py (every distinct program compiled and run once, through the execution cache, by
ossinstruct/sandbox/toolchains.py, which the verify step of the curated data shares);
fixtures/multipl-e.jsonl and multipl-e-greedy.jsonl."""
