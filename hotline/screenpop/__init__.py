"""screenpop."""
