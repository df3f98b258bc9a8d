"""``lanner test``: run rule test cases (live scenarios, captures, audit logs) and report coverage."""
