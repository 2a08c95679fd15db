"""Analyses over a model's units: across the test set, and under interventions."""
