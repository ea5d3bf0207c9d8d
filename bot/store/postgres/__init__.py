"""The PostgreSQL backend (asyncpg): the same tables and named operations as the SQLite one,
for several bot processes sharing one database (``storage.url``)."""
