"""Optimisers, learning-rate schedules and weight initialisation."""
