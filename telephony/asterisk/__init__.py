"""The Asterisk side: its configuration rendered from ours, and a private instance runner."""
