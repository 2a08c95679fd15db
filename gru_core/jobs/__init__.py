"""Dashboard training runs: each run is ``python -m gru_core train`` in a child process of its own.

``runs`` (requests, the registry of runs, limits), ``progress`` (the JSON-lines file a run writes and the
dashboard reads), ``childproc`` (priority, threads, death with the server). They import only the core.
"""
