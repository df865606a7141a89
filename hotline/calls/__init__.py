"""Call records: each PBX's feed of AMI events through its tracker (feed.py), the ordered fan-out
of events and updates to the features (fanout.py), the batching writer (writer.py) and the
store of records (store.py).
"""
