"""Fan-out to connected clients: the only package that talks to the channel layer.

* ``groups``: the group names and audiences (pure names).
* ``layer``: whether this process can reach the channel layer (``LayerHealth``, ``layer_call``,
  ``layer_probe``) and the Redis layer as configured (``LoketRedisChannelLayer``, and
  ``OncePerPeriod`` for its log).
* ``frames``: every server-to-client frame as one typed model, and ``Outgoing`` (a frame
  validated and serialised once).
* ``publish``: what happened (``entry_appended``, ``consultation_changed``, ``queues_changed``...),
  published after commit.

Nothing is imported here, so that ``frames`` can be imported by selectors without loading the
publishing side (which reads selectors after commit).
"""
