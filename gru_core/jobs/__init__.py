"""Dashboard training runs: each run is ``python -m gru_core train`` in a child process of its own.

``runs`` (requests, the registry of runs, limits), ``progress`` (the JSON-lines file a run writes and the
dashboard reads), ``childproc`` (priority, threads, death with the server); ``background`` (a computation in a
low-priority thread of the server, and a bounded shelf of them). They import only the core.
"""
