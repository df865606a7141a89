"""Development support shared by tests/ and bench/: free ports, polling with a deadline,
a TCP proxy that cuts or freezes, private PostgreSQL and Redis servers. Never imported by the
product."""
