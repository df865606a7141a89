"""The wiring and entry points, imported by nothing: the settings file (settings.py), the running
service (service.py) and the path of a call through it (flow.py), the PBXes' wiring (pbx.py),
the web application (web.py), the command line (cli.py), the demo (demo.py), worker processes
(workers.py) and the active/standby runner (ha_runner.py).
"""
