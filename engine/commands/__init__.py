"""Sub-commands of ``hanchot``; each module registers its commands on ``engine.cli.app``."""
