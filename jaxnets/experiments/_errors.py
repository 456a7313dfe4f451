"""The two errors of the sweeps: a config that cannot run, a store that cannot be used."""


class ConfigError(ValueError):
    """A sweep config that cannot run; the message names the key and the accepted values."""


class StoreError(RuntimeError):
    """The store cannot be opened or written; the message says which file and why."""
