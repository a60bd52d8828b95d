"""Writes, one module per entity or flow. Each public function is one transaction and publishes
only after commit. Services may read through ``consult.selectors``; selectors never call a
service.

consultations (join, end, transfer, requeue, abandon), offers (accept, decline, expire), routing
(the dispatch pass), calls, transcript, presence (connections, process heartbeats, counselor
status), sweeper (every due deadline), knowledge, replies, notes, feedback, office, tokens,
sessions (staff sessions outside HTTP), locking (the one row lock).
"""
