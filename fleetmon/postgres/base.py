"""Django's PostgreSQL backend, whose connection pool follows the database it points at and
takes back the connections of threads that ended without closing them.

Django keeps one pool per alias, made from the settings of its first connection. Code that
points the default alias at another database by changing its NAME (the test runner, the
detection replays' scratch databases) would keep getting connections to the old one: here a
pool made for another database name is closed and a new one made.

A thread that ends with its connection open (a Celery worker run in a thread, a library's
thread that never calls `close_old_connections`) would keep that connection out of the pool
for good: with a bounded pool, a few such threads starve the process. Each connection taken
from the pool is noted with its thread; when the pool has none left to give, the connections
of threads that have ended go back to it first. A connection shared between threads
(`allow_thread_sharing`, as the test server does) is left alone.
"""

import threading
import weakref

from django.db.backends.postgresql import base

_lock = threading.Lock()
# id(psycopg connection) -> (the thread that took it, its DatabaseWrapper, the connection)
_taken: dict[int, tuple[threading.Thread, weakref.ref, object]] = {}


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self):
        pool = super().pool
        if pool is not None and pool.kwargs.get("dbname") != self.settings_dict["NAME"]:
            pool.close()
            self._connection_pools.pop(self.alias, None)
            pool = super().pool
        return pool

    def get_new_connection(self, conn_params):
        pool = self.pool
        if pool is not None and not pool.closed:
            stats = pool.get_stats()
            if stats.get("pool_available", 0) == 0 and stats.get("pool_size", 0) >= pool.max_size:
                reclaim_from_ended_threads()
        connection = super().get_new_connection(conn_params)
        if pool is not None:
            with _lock:
                _taken[id(connection)] = (threading.current_thread(), weakref.ref(self), connection)
        return connection

    def _close(self):
        connection = self.connection
        try:
            return super()._close()
        finally:
            if connection is not None:
                with _lock:
                    _taken.pop(id(connection), None)

    def close_pool(self):
        # Closing a pool closes the connections in it: first take back those of ended
        # threads (the test runner drops its database right after).
        reclaim_from_ended_threads()
        super().close_pool()


def reclaim_from_ended_threads() -> int:
    """Give the connections of threads that have ended back to their pool; return how many."""
    with _lock:
        ended = [
            (key, wrapper_ref, connection)
            for key, (thread, wrapper_ref, connection) in _taken.items()
            if not thread.is_alive()
        ]
        for key, _, _ in ended:
            del _taken[key]
    returned = 0
    for _, wrapper_ref, connection in ended:
        wrapper = wrapper_ref()
        if wrapper is not None:
            if wrapper.allow_thread_sharing or wrapper.connection is not connection:
                continue  # shared with a live thread, or already handed back
            wrapper.connection = None
        pool = getattr(connection, "_pool", None)
        if pool is None:
            continue  # back in its pool already
        try:
            pool.putconn(connection)  # rolled back there if a transaction was left open
            returned += 1
        except Exception:  # noqa: BLE001 - a closed pool, a broken connection: dropped
            pass
    return returned
