"""multipl_e."""
