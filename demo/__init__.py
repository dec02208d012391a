"""``make demo``: the gateway at work, end to end, on a machine with only Python.

It starts an embedded Redis, a SQLite token store, the Paynet simulator and two real worker
processes, sends a few hundred payments from a plain producer, revokes the token twice while
they run, and prints what happened: how many payments went through, and that each revocation
cost exactly one login. Everything it starts is stopped again, on Ctrl-C and SIGTERM too.
"""
