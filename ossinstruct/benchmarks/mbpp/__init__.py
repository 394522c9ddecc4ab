"""mbpp."""
