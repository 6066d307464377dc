"""The errors tfvae raises, each naming the problem it reports."""


class TfvaeError(Exception):
    """Base class of every error tfvae raises on purpose."""


class InvalidInputError(TfvaeError, ValueError):
    """An argument or a data array is not what the function needs."""


class DatasetUnavailableError(TfvaeError, RuntimeError):
    """A dataset could not be loaded (no network, no local copy)."""


class DataFormatError(TfvaeError, ValueError):
    """A data file exists but is not what it claims to be (truncated, corrupt)."""


class CheckpointError(TfvaeError, RuntimeError):
    """A checkpoint or saved model is missing or unreadable."""


class TrainingDivergedError(TfvaeError, FloatingPointError):
    """The training loss became NaN or infinite."""


class WorkerLostError(TfvaeError, RuntimeError):
    """A peer worker of a multi-worker run stopped answering, so the collective steps cannot go on."""
