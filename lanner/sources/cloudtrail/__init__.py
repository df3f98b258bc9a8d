"""AWS CloudTrail records (source ``aws_cloudtrail``) from local log files; see :mod:`.plugin`."""

from lanner.sources.cloudtrail.plugin import CloudTrailPlugin

__all__ = ["CloudTrailPlugin"]
