"""Django's PostgreSQL backend with a connection pool that follows the database name."""
