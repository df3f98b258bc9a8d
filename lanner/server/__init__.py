"""Network endpoints: the webserver (``/healthz``, ``/versions``, ``/metrics``), the metrics registry and
the metrics snapshot. The k8s audit webhook is served by the k8saudit source's own listener."""
