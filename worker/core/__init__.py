"""What every mechanism shares: the clock, backoff, failure causes, outages, redaction, metrics.

Imports nothing of the gateway outside ``worker.core`` (the settings models excepted); every
package above may import it.
"""
