"""The database: engine and migrations (engine.py, migrations/; the migrations import no
application code), the table models (models.py and the *_models.py files), the per-hour sums
that cache calls for the metrics (rollups.py) and the ``database:`` section (config.py).
"""
