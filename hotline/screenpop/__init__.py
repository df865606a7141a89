"""The screen-pop and the agent's page: the pop when a call connects (service.py), the typed
messages of the agent's WebSocket (schemas.py), the page's routes (routes.py) and the page
itself (static/agent.html).
"""
