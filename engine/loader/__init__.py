"""Reading ``config/`` and ``rules/`` into core types, with ``file:line`` errors."""
