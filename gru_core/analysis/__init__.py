"""Analyses over many reviews at once: what each unit does across the test set, and what breaks without it."""
