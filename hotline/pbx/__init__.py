"""One PBX as the features see it (link.py): its AMI connection, tracker, queue board and queue
control.
"""
