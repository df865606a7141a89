"""Talk-time metrics: the figures and their definitions (formulas.py), the queries over the
per-hour sums (store.py), the service (service.py), the reports' HTML and CSV (render.py, with
the page's template in templates/, its words in labels.py and its charts in charts.py), its
configuration (config.py) and API (routes.py, schemas.py).
"""
