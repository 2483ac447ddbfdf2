"""Data generators and loaders: each generator is deterministic from a seed and documents its rules."""
