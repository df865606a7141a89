"""Leaf utilities every feature may use and that import no feature: domain errors with stable
ids (errors.py), tokens, roles and passwords (auth.py), supervisors' alerts (alerts.py), the
working calendar of ticket deadlines and survey windows (calendar.py).
"""
