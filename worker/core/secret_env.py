"""Variables that may come from files: ``NAME_FILE``, or a file ``NAME`` in a secrets directory.

Orchestrators hand secrets over as mounted files (Compose and Docker ``secrets:``, a Kubernetes
Secret volume) so that they are not in the process's environment, where ``docker inspect`` and
``/proc/<pid>/environ`` show them. Any variable the configuration file names may be given in one
of three ways, and in only one at a time:

- ``NAME`` itself;
- ``NAME_FILE``: the path of a file holding the value;
- a file called ``NAME`` in the directory named by ``PAYNET_SECRETS_DIR``.

The file's content is the value, its trailing newline stripped. A file is read only when its
variable is looked up, so a process reads only the secrets of the part of the configuration it
loads (Flower never opens the Paynet password's file). Errors name variables and paths, never
a value.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

FILE_SUFFIX = "_FILE"
SECRETS_DIR = "PAYNET_SECRETS_DIR"


class SecretSourceError(ValueError):
    """A variable given twice, or a file that cannot be read; names the variables, not values."""


class SecretEnvironment(Mapping[str, str]):
    """``env`` with each variable's value looked up in its file when it is given as one."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        directory = env.get(SECRETS_DIR, "")
        self._directory = Path(directory) if directory else None

    def __getitem__(self, name: str) -> str:
        sources = self.sources(name)
        if len(sources) > 1:
            raise SecretSourceError(f"given more than once ({', '.join(sources)}): keep one")
        if not sources:
            raise KeyError(name)
        if sources[0] == name:
            return self._env[name]
        return _read(sources[0], self._file_of(name))

    def __iter__(self) -> Iterator[str]:
        return iter(self._env)

    def __len__(self) -> int:
        return len(self._env)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(self.sources(name))

    def sources(self, name: str) -> list[str]:
        """Where ``name`` is given: itself, its ``_FILE`` variable, the secrets directory."""
        found = []
        if self._env.get(name, "") != "":
            found.append(name)
        if self._env.get(name + FILE_SUFFIX, "") != "":
            found.append(name + FILE_SUFFIX)
        if self._directory is not None and (self._directory / name).exists():
            found.append(f"{SECRETS_DIR}/{name}")
        return found

    def _file_of(self, name: str) -> Path:
        given = self._env.get(name + FILE_SUFFIX, "")
        if given:
            return Path(given)
        assert self._directory is not None  # noqa: S101 - sources() found it there
        return self._directory / name


def _read(source: str, path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise SecretSourceError(f"{source}: cannot read {path}: {reason}") from None
    return text.rstrip("\r\n")
