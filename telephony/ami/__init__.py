"""Asterisk Manager Interface: the connection (I/O) and the event types (no I/O)."""
