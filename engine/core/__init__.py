"""The pure core of hanchot: no I/O, no clock, no SQL, no YAML."""
