"""Transcription of recorded calls: jobs, worker processes, delivery."""
