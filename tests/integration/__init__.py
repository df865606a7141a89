"""The real-parts tier: a private Asterisk, pjsua2 phones, Chromium, the speech model,
PostgreSQL and Redis servers (tests/integration/conftest.py fails when one is missing)."""
