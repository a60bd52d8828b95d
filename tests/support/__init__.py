"""What the tests share, each defined once (the fixtures among it are registered by
tests/conftest.py):

- needs: which real services (PostgreSQL, Redis, Chromium) a test needs; skip or, under CI, fail
- staff, applicants, phones, knowledge: rows in the test database, through the models and the
  services; a logged-in test client (staff_client)
- sockets: WebSocket clients on the in-process ASGI application
- servers, live, processes: real Daphne and Redis processes, their clients, and their fixtures
- sqlite: one Daphne process on a SQLite file of its own (browser walks, calls, pre-call check)
- browser: a browser walk's server and Chromium, and the checks every page gets
- rtc: an aiortc client peer with a synthetic camera and microphone
"""
