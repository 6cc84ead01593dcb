"""Landmarks: K ordered (x, y) points per image."""
