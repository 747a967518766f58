r"""Who this process is in a sweep: its environment, read once at the edge.

A distributed sweep (one chief handing out runs, workers training them) is
named by keras-tuner's variables, and its timeouts by ours:

- `KERASTUNER_TUNER_ID`: `chief`, or a worker's id (`tuner0`, `tuner1`, ...);
- `KERASTUNER_ORACLE_IP`, `KERASTUNER_ORACLE_PORT`: the chief's address;
- `KERAS_ROBUST_HEARTBEAT_TIMEOUT`: seconds without a heartbeat after which
  a worker counts as dead and its run is queued again (default 120);
- `KERAS_ROBUST_CHIEF_TIMEOUT`: seconds a worker retries a chief that does
  not answer (default 300);
- `KERAS_ROBUST_LAUNCHER_PID`: set by the `--workers` launcher in its
  children, which end when it is gone.

`SweepEnvironment.from_environ(os.environ)` reads and checks them once, in
the script (`recipes.main`, `recipes.grid`); the sweep modules get the
frozen value and read no variable themselves. keras-tuner reads its own
`KERASTUNER_*` variables as well, from the same environment.
"""

import dataclasses
import types
from typing import Mapping
from typing import Optional

TUNER_ID_ENV = "KERASTUNER_TUNER_ID"
ORACLE_IP_ENV = "KERASTUNER_ORACLE_IP"
ORACLE_PORT_ENV = "KERASTUNER_ORACLE_PORT"
CHIEF_TIMEOUT_ENV = "KERAS_ROBUST_CHIEF_TIMEOUT"
HEARTBEAT_TIMEOUT_ENV = "KERAS_ROBUST_HEARTBEAT_TIMEOUT"
LAUNCHER_PID_ENV = "KERAS_ROBUST_LAUNCHER_PID"
# The variables that make a process a chief or worker of a distributed sweep.
DISTRIBUTED_ENV = (TUNER_ID_ENV, ORACLE_IP_ENV, ORACLE_PORT_ENV)
DEFAULT_TUNER_ID = "tuner0"
CHIEF_ID = "chief"
DEFAULT_CHIEF_TIMEOUT_SECONDS = 300.0
DEFAULT_HEARTBEAT_TIMEOUT_SECONDS = 120.0


class SweepError(RuntimeError):
    """A sweep that cannot start, or a local worker that failed."""


def _seconds(name, text, default):
    if text is None or not str(text).strip():
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise SweepError(f"{name}={text!r} is not allowed: a number of seconds > 0.")
    return value


def _integer(name, text, low, high, allowed):
    try:
        value = int(text)
    except (TypeError, ValueError):
        value = None
    if value is None or not low <= value <= high:
        raise SweepError(f"{name}={text!r} is not allowed: {allowed}.")
    return value


@dataclasses.dataclass(frozen=True)
class SweepEnvironment:
    """This process's place in a sweep and the sweep's timeouts.

    Attributes:
        tuner_id: `KERASTUNER_TUNER_ID`, or None where it is not set.
        oracle_ip: The chief's IP address, or None: not distributed.
        oracle_port: The chief's port, or None.
        heartbeat_timeout: Seconds without a heartbeat after which a worker
            (and the run it trains) counts as dead.
        chief_timeout: Seconds a worker retries a chief that does not answer.
        launcher_pid: The `--workers` launcher that started this process,
            or None.
        inherited: The variables a child process starts from (the
            launcher's children inherit them).
    """

    tuner_id: Optional[str] = None
    oracle_ip: Optional[str] = None
    oracle_port: Optional[int] = None
    heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT_SECONDS
    chief_timeout: float = DEFAULT_CHIEF_TIMEOUT_SECONDS
    launcher_pid: Optional[int] = None
    inherited: Mapping[str, str] = dataclasses.field(
        default_factory=dict, repr=False, compare=False
    )

    def __post_init__(self):
        for name, value in ((HEARTBEAT_TIMEOUT_ENV, self.heartbeat_timeout),
                            (CHIEF_TIMEOUT_ENV, self.chief_timeout)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SweepError(f"{name}={value!r} is not allowed: a number of seconds > 0.")
            _seconds(name, value, value)
        if self.oracle_ip is not None:
            if self.oracle_port is None:
                raise SweepError(
                    f"{ORACLE_IP_ENV}={self.oracle_ip!r} needs {ORACLE_PORT_ENV}: "
                    "the chief's port."
                )
            if not self.tuner_id:
                raise SweepError(
                    f"{ORACLE_IP_ENV}={self.oracle_ip!r} needs {TUNER_ID_ENV}: "
                    f"'{CHIEF_ID}' or a worker's id such as 'tuner0'."
                )
        if self.tuner_id is not None and CHIEF_ID in self.tuner_id and self.tuner_id != CHIEF_ID:
            # keras-tuner makes any id containing "chief" a chief.
            raise SweepError(
                f"{TUNER_ID_ENV}={self.tuner_id!r} is not allowed: '{CHIEF_ID}' for "
                "the chief, or a worker's id without 'chief' in it."
            )
        object.__setattr__(self, "inherited", types.MappingProxyType(dict(self.inherited)))

    @classmethod
    def from_environ(cls, environ):
        """Reads and checks the sweep's variables of `environ` (`os.environ`).

        Raises:
            SweepError: one line naming the variable, its value and what is
                allowed.
        """
        port = environ.get(ORACLE_PORT_ENV)
        launcher = environ.get(LAUNCHER_PID_ENV)
        return cls(
            tuner_id=environ.get(TUNER_ID_ENV),
            oracle_ip=environ.get(ORACLE_IP_ENV) or None,
            oracle_port=None if port is None else _integer(
                ORACLE_PORT_ENV, port, 1, 65535, "a port number from 1 to 65535"
            ),
            heartbeat_timeout=_seconds(
                HEARTBEAT_TIMEOUT_ENV, environ.get(HEARTBEAT_TIMEOUT_ENV),
                DEFAULT_HEARTBEAT_TIMEOUT_SECONDS,
            ),
            chief_timeout=_seconds(
                CHIEF_TIMEOUT_ENV, environ.get(CHIEF_TIMEOUT_ENV), DEFAULT_CHIEF_TIMEOUT_SECONDS
            ),
            launcher_pid=None if not launcher else _integer(
                LAUNCHER_PID_ENV, launcher, 1, 2**31, "a process id"
            ),
            inherited=environ,
        )

    @property
    def name(self):
        """This process's tuner id (`tuner0` where none is set)."""
        return self.tuner_id or DEFAULT_TUNER_ID

    @property
    def is_distributed(self):
        """Whether this process is the chief or a worker of a distributed sweep."""
        return self.oracle_ip is not None

    @property
    def is_chief(self):
        return self.is_distributed and self.tuner_id == CHIEF_ID

    @property
    def is_worker(self):
        """Whether this process is a worker (not the chief) of a distributed sweep."""
        return self.is_distributed and not self.is_chief

    @property
    def chief_address(self):
        """`ip:port` of the chief."""
        return f"{self.oracle_ip}:{self.oracle_port}"

    @property
    def variables_set(self):
        """The `KERASTUNER_*` variables that are set, by name."""
        values = (self.tuner_id, self.oracle_ip, self.oracle_port)
        return [name for name, value in zip(DISTRIBUTED_ENV, values) if value is not None]


class SweepInterrupted(SweepError):
    """The `--workers` launcher was stopped by a signal (its children too).

    Attributes:
        status: The exit status a shell gives that signal: 128 + its number
            (130 for SIGINT, 143 for SIGTERM).
    """

    def __init__(self, signum, message):
        super().__init__(message)
        self.status = 128 + int(signum)
