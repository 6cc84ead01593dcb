"""Classification with localisation: one object or none per image, its class and its box."""
