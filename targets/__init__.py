"""The reference targets, one package each beside their shared kit (``targets.targetkit``).

Started as modules from the repository root, ``python -m targets.<name>.app``, which is how the
process runtime runs them and how their images run them from ``/srv``.
"""
