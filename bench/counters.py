"""Names shared by the bench's workers (which count) and its driver (which reads)."""

# A hash the bench app's workers HINCRBY: statements, store_reads, pings. The driver leaves
# HINCRBY (and HGET, INFO) out of Redis's command counts, so counting costs nothing measured.
COUNTS = "bench:counts"
