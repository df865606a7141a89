"""fastagi."""
