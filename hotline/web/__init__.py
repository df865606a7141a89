"""HTTP infrastructure: who is calling (deps.py), the typed registry routes get their feature's
services from (deps.py), domain errors → HTTP (errors.py), health, the uvicorn server. It
imports no feature: each feature has its routes (``<feature>/routes.py``), request and
response models (``<feature>/schemas.py``) and pages (``<feature>/static/``); the application
is put together in ``hotline/app/web.py``."""
