"""Image classification: one class per image (the zoo of the course)."""
