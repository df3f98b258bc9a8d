"""Kubernetes audit events (source ``k8s_audit``): webhook and file input; see :mod:`.plugin`."""

from lanner.sources.k8saudit.plugin import K8sAuditPlugin

__all__ = ["K8sAuditPlugin"]
