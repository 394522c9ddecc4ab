"""APPS: plugin.py; check.py (the grader, a sandbox handler); runner.py (the program one
test runs, started by the grader with `python -I`); fixtures/apps.jsonl (the test split's
schema) and fixtures/apps.eval.jsonl."""
