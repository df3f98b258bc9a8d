"""Ahead-of-time compiled copies of the hottest pure-Python modules (Cython, pure-Python mode).

The ``.py`` files stay the one source of truth: ``build`` compiles an exact copy of each listed module
into ``lib/`` (never beside the sources) and records the hash of the source it was built from; ``hook``
loads a compiled module only while that hash still matches the ``.py`` on disk, else the ``.py`` runs.
"""
