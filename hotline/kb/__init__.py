"""The knowledge base: articles and their full-text search on SQLite and PostgreSQL (store.py),
the service the routes and the screen-pop use (service.py), import from YAML (importer.py),
its configuration (config.py) and API (routes.py, schemas.py).
"""
