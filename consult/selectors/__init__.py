"""Reads only: queries with no writes, and no service imports.

consultations (what staff may see or hold, state frames, resync marks, and the held-by and
call-participant rules, once each), queue (seats, video reservations, snapshots, positions,
wait estimates), topics (those applicants may join, names), transcript (replay, whole transcripts,
search), knowledge, requirements, office, board, figures, staff (who a user is as staff, the
counselors).
"""
