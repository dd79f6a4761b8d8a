"""Bring LangGraph data to threadloom: ``migrate(source, target)`` copies checkpoints and store items.

See ``docs/migrate.md``; ``threadloom migrate SOURCE TARGET`` runs it from the command line.
"""

from threadloom.migrate._run import MigrationReport, migrate

__all__ = ["MigrationReport", "migrate"]
