"""Plain ``nn.Module`` architectures that return logits, and their registry."""
