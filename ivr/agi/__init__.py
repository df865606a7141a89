"""FastAGI: a sans-I/O protocol module and an asyncio server built on it."""
