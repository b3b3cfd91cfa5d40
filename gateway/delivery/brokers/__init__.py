"""Publishing webhook events to message brokers: one publisher per kind, one skeleton for all.

::

    common.py         options, the message, the checked address, outcomes and their codes
    pool.py           connections per broker and credentials, backoff after failed connects
    base.py           the publish skeleton (size check, connection, bounded publish, outcome)
    rabbitmq.py       RabbitMQ: persistent, publisher confirms, mandatory    (aio-pika)
    jetstream.py      NATS JetStream: acked publish, Nats-Msg-Id            (nats-py)
    redis_streams.py  Redis Streams: XADD                                    (redis-py)

``gateway.delivery.destinations.DestinationSender`` picks the publisher by the target's scheme
after the client's broker allow-list; the publishers trust that it did.

**What "delivered" means on each broker.** A publish is delivered only once the broker confirmed
it; a connection lost or a confirm not come in time is a failed attempt (retried on the
schedule), even when the broker may have stored the message, so delivery is at least once and
consumers deduplicate on ``webhook-id``. After the confirm, each broker keeps the message as
well as it is configured to, and no better:

- **RabbitMQ** confirms a persistent message once the queues it was routed to have it: on disk
  for a durable classic queue, on a majority for a quorum queue; in memory only for a
  non-durable queue (lost when the broker restarts). A queue with a length limit and
  ``overflow=drop-head`` (the default) drops its oldest messages, read or not.
- **NATS JetStream** acks once the stream stored it, per the stream's storage (file or memory)
  and replicas. Its limits (``max_msgs``, ``max_bytes``, ``max_age``) discard old messages per
  its discard policy, read or not. Within the stream's duplicate window (two minutes unless
  configured), a second message with the same ``Nats-Msg-Id`` is dropped and acked as a
  duplicate: retries reuse the event's id, an explicit redelivery or replay must use a fresh one.
- **Redis** replies to ``XADD`` once the entry is in memory. Without persistence (no RDB, no
  AOF; this machine's Redis keeps nothing on disk) every entry is lost on a restart; with
  ``appendfsync everysec`` the last second can be. A stream capped by length or age (``MAXLEN``,
  ``MINID``, ``XTRIM``) drops its oldest entries whether or not a consumer has read them. A
  replica may not have the entry when the primary fails over.
"""
