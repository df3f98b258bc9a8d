"""Built-in fan-out targets in the style of Falcosidekick (configured under lanner's ``fanout`` key)."""
