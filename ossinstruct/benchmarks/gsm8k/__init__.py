"""GSM8K (decontamination strings only): plugin.py; fixtures/gsm8k.jsonl."""
