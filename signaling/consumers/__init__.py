"""The WebSocket consumers (Channels transport): authenticate, parse, check, call one service
through ``signaling.bridge``, reply.

- ``base``: connect, close, typed client frames in (limits, auth, dispatch), error replies.
- ``delivery``: the channel layer as a fast path (``LayerReceiver``) and delivery in order,
  exactly once (``OrderedDelivery``: following, replay, gaps, acks, resync).
- ``ratelimit``: the sliding windows of a connection, and the once-a-minute warning.
- ``relay``: ``typing``, the WebRTC signaling relay (``rtc.*``) and the call frames.
- ``applicant``, ``staff``: the two roles (``signaling.routing`` maps their URLs).
"""
