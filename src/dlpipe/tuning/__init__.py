"""Hyperparameter tuning with Optuna."""
