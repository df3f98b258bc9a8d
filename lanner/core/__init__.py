"""The ground floor: vocabulary every stage shares (the error root, rule priorities, the alert).
Imports nothing else from lanner."""
