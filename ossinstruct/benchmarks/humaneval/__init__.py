"""HumanEval and HumanEval+: plugin.py (on EvalPlus's shared code, ../evalplus/);
fixtures/humaneval.jsonl."""
