"""LightningModules: one per task (classification first)."""
