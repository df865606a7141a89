"""Supervisors' view: the live view pushed on change (live.py, config.py), its typed snapshot
(schemas.py), the Prometheus text (prometheus.py), the API, WebSocket and wallboard page
(routes.py, static/wallboard.html).
"""
