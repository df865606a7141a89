"""Talk-time metrics: the figures and their definitions (formulas.py), the queries over the
per-hour sums (store.py), the service (service.py), the reports (report.py: what they show and
the CSV; render.py: the HTML page, its template in templates/, its words in labels.py and its
charts in charts.py), its configuration (config.py) and API (routes.py, schemas.py).
"""
