"""Infrastructure layer (domain §5.1): job health, scoring performance, heartbeats, queues,
and the operations dashboard's views and API."""
