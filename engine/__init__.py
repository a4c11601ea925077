"""hanchot: a deadline engine for Vietnamese public administration.

Layers (dependencies point downwards only):

* ``engine.core`` — pure: working calendar, spans, periods, rules, due dates,
  reminder schedules. No I/O, no clock, no SQL, no YAML.
* ``engine.loader`` — reads ``config/`` and ``rules/`` YAML into core types.
* ``engine.store`` — SQLModel tables, migrations, materialisation, outbox.
* ``notifications`` — mail rendering and sending.
* ``engine.cli`` / ``engine.daemon`` — the only places that wire them together.
"""

__version__ = "0.1.0"
