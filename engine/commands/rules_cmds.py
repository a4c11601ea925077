"""``hanchot check``, ``schema`` and ``plan`` (config and rules, no database)."""
