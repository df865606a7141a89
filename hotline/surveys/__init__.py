"""Satisfaction-survey callbacks: policy (pure), scheduler (store + clock), dialer (pjsua2)."""
