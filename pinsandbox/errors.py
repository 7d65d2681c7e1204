"""One exception family. Every message says what was wrong and what to do about it."""


class PinsandboxError(Exception):
    """Base class: a user-facing error. The CLI prints it as one line and exits 2."""


class InvalidInput(PinsandboxError, ValueError):
    """A name, parameter, file or value the user supplied is not acceptable."""


class NotFound(PinsandboxError, LookupError):
    """A sandbox, run, artifact, notebook, pin or pinner does not exist."""


class SandboxEscape(PinsandboxError, PermissionError):
    """A path would leave its sandbox (traversal, absolute path, symlink pointing out)."""


class QuotaExceeded(PinsandboxError):
    """A sandbox uses more disk than its quota allows."""


class SandboxBusy(PinsandboxError):
    """Another run holds the sandbox's lock and the caller asked not to wait."""


class CorruptArtifact(PinsandboxError):
    """An artifact's files do not match the sha256 recorded in its manifest."""


class RunFailed(PinsandboxError):
    """A notebook run ended `failed`; the message names the cell and the error."""
