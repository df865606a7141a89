"""Who is calling: the caller's region by number prefix, previous calls and tickets, the repeat
flag (history.py), its configuration (config.py) and the caller look-ups of the agent's page
(routes.py, schemas.py).
"""
