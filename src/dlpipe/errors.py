"""Errors that end a stage with one line and exit code 2."""


class DlpipeError(Exception):
    """A problem the user can fix: its message is printed alone, without a traceback."""


class ConfigError(DlpipeError):
    """params.yaml names an unknown key or holds a bad value. The message starts with the key;
    the command line adds the file in front."""


class DataError(DlpipeError):
    """Input data is missing, unreadable or inconsistent."""


class ExportError(DlpipeError):
    """An exported model does not reproduce the eager model."""


class TuneError(DlpipeError):
    """A study could not be opened or a worker failed."""


class TrackingError(DlpipeError):
    """The MLflow tracking server does not answer."""


class PeerError(DlpipeError):
    """A process of a ddp job ended, or was silent for longer than train.peer_timeout."""
