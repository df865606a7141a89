"""The HTTP API, WebSocket streams and pages (FastAPI). Nothing below ``hotline`` imports it."""
