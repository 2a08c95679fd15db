"""Analyses built on the core model: dynamics of the state, units across the test set, and interventions."""
