"""A ``paynet.call`` from its task arguments to Paynet's answer.

Parsing the arguments, the wait signal and the codecs of the state in the task's kwargs, the
one send path both kinds of call use, the keyed call (through the ledger), the entry
(``gateway``) and the task reprs. Imports ``tokens``, ``ledger``, ``paynet``, ``core``.
"""
