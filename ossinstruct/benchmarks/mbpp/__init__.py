"""MBPP and MBPP+: plugin.py (on EvalPlus's shared code, ../evalplus/); fixtures/mbpp.jsonl
(the original MBPP's schema) and fixtures/mbpp.eval.jsonl (MBPP+'s)."""
