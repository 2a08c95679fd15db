"""Analyses of trained models that go beyond one trace: state-space dynamics and the like."""
