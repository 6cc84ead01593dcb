"""Metrics, plots and diagnosis of trained models."""
