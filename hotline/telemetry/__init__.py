"""Prometheus metrics: the histograms the features observe into, the process and runtime
collectors, and each worker process's own loopback endpoint. No registry lives here: the wiring
(``hotline.app``) builds one ``CollectorRegistry`` per process and hands the metrics built on it
to the features (prometheus_client's global default registry is never used)."""
