"""The IVR as the PBX reaches it: the FastAGI server of ``ivr/`` with the prompts built and the
ticket look-ups the menu makes (service.py).
"""
