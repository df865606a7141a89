"""The fast tier: pure code (protocols, tracker replays, drafting, layering); no Asterisk,
Chromium, speech model or database server needed."""
