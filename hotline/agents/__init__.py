"""Agents: profiles, skills and roles in the store (store.py), their time for occupancy (time.py),
the desk that logs them in by skill, pauses them and runs wrap-up over AMI (desk.py), bulk
import (importer.py) and the agents API (routes.py, schemas.py).
"""
