"""Analyses of a trained model, built on the core: tables and attributions of a trace (``explain``), test-set
statistics (``stats``), the GRU vs LSTM comparison (``compare``, ``memprobe``), the loss landscape
(``landscape``), state-space dynamics (``dynamics``, ``dynamics_report``), units across the test set (``units``,
``atlas``, ``ablation``) and interventions. They import the core and each other, never charts, jobs or pages.
"""
