"""``hanchot event``, ``done``, ``waive``, ``status`` and ``run`` (the tracking store)."""
