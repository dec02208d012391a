"""The task and the queue producers route by: the gateway's contract, written here once."""

CALL_TASK = "paynet.call"
CALL_QUEUE = "paynet"
