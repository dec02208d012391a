"""Database URL spelling shared by the embedded server and scratch databases.

Operators write ``postgresql://host/db`` (or Heroku-style ``postgres://``);
the project talks to PostgreSQL through SQLAlchemy with psycopg2, so bare URLs
are given that driver explicitly.
"""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy.engine import URL, make_url

POSTGRES_DRIVER = "postgresql+psycopg2"
_POSTGRES_BACKENDS = frozenset({"postgresql", "postgres"})


def backend_name(url: str) -> str:
    """Return the URL's backend ("postgresql", "sqlite", ...), driver dropped."""
    backend = make_url(url).get_backend_name()
    return "postgresql" if backend == "postgres" else backend


def is_postgres_url(url: str) -> bool:
    return make_url(url).get_backend_name() in _POSTGRES_BACKENDS


def is_sqlite_url(url: str) -> bool:
    return backend_name(url) == "sqlite"


def postgres_url(url: str) -> URL:
    """Parse a PostgreSQL URL, giving a bare one the psycopg2 driver.

    An empty password (``postgres:@``, as pgserver writes it) is dropped.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() not in _POSTGRES_BACKENDS:
        raise ValueError(f"not a PostgreSQL URL: {parsed.render_as_string(hide_password=True)}")
    driver = parsed.drivername
    if driver in _POSTGRES_BACKENDS:
        driver = POSTGRES_DRIVER
    elif driver.startswith("postgres+"):
        driver = "postgresql+" + driver.split("+", 1)[1]
    return URL.create(
        drivername=driver,
        username=parsed.username,
        password=parsed.password or None,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    )


def render_url(url: URL) -> str:
    """Render with the password, leaving ``/`` in query values unescaped.

    ``?host=/tmp/dir`` stays readable, and has no ``%`` that would trip
    configparser interpolation (alembic's ``set_main_option``).
    """
    base = url.set(query={}).render_as_string(hide_password=False)
    if not url.query:
        return base
    pairs: list[str] = []
    for key, value in url.query.items():
        values = (value,) if isinstance(value, str) else value
        pairs.extend(f"{quote(key)}={quote(item, safe='/:,')}" for item in values)
    return f"{base}?{'&'.join(pairs)}"


def with_database(url: str, database: str) -> str:
    """The same server and credentials, another database (psycopg2 driver)."""
    return render_url(postgres_url(url).set(database=database))
