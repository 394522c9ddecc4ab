"""gsm8k."""
