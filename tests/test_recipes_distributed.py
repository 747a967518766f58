"""`recipes.distributed.SweepEnvironment`: the sweep's variables, read and checked once."""

import pytest

from recipes.distributed import SweepEnvironment
from recipes.distributed import SweepError


def test_no_variables_is_one_process_alone():
    environment = SweepEnvironment.from_environ({"PATH": "/bin"})
    assert environment == SweepEnvironment()
    assert (environment.name, environment.is_distributed, environment.is_chief,
            environment.is_worker) == ("tuner0", False, False, False)
    assert (environment.heartbeat_timeout, environment.chief_timeout) == (120.0, 300.0)
    assert environment.launcher_pid is None and environment.variables_set == []
    assert dict(environment.inherited) == {"PATH": "/bin"}


def test_a_chief_and_a_worker():
    address = {"KERASTUNER_ORACLE_IP": "10.0.0.1", "KERASTUNER_ORACLE_PORT": "8000"}
    chief = SweepEnvironment.from_environ({"KERASTUNER_TUNER_ID": "chief", **address})
    assert chief.is_chief and not chief.is_worker and chief.chief_address == "10.0.0.1:8000"
    worker = SweepEnvironment.from_environ({
        "KERASTUNER_TUNER_ID": "tuner3", **address,
        "KERAS_ROBUST_HEARTBEAT_TIMEOUT": "2.5", "KERAS_ROBUST_CHIEF_TIMEOUT": "30",
        "KERAS_ROBUST_LAUNCHER_PID": "4242",
    })
    assert worker.is_worker and worker.name == "tuner3"
    assert (worker.heartbeat_timeout, worker.chief_timeout, worker.launcher_pid) == (2.5, 30.0, 4242)
    assert worker.variables_set == [
        "KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"
    ]
    # Frozen: read once, never changed below.
    with pytest.raises(AttributeError):
        worker.tuner_id = "tuner4"
    with pytest.raises(TypeError):
        worker.inherited["KERASTUNER_TUNER_ID"] = "tuner4"


@pytest.mark.parametrize("environ, message", [
    ({"KERAS_ROBUST_HEARTBEAT_TIMEOUT": "abc"},
     "KERAS_ROBUST_HEARTBEAT_TIMEOUT='abc' is not allowed: a number of seconds > 0."),
    ({"KERAS_ROBUST_HEARTBEAT_TIMEOUT": "0"},
     "KERAS_ROBUST_HEARTBEAT_TIMEOUT='0' is not allowed: a number of seconds > 0."),
    ({"KERAS_ROBUST_CHIEF_TIMEOUT": "inf"},
     "KERAS_ROBUST_CHIEF_TIMEOUT='inf' is not allowed: a number of seconds > 0."),
    ({"KERAS_ROBUST_CHIEF_TIMEOUT": "nan"},
     "KERAS_ROBUST_CHIEF_TIMEOUT='nan' is not allowed: a number of seconds > 0."),
    ({"KERASTUNER_ORACLE_PORT": "80000"},
     "KERASTUNER_ORACLE_PORT='80000' is not allowed: a port number from 1 to 65535."),
    ({"KERASTUNER_ORACLE_IP": "10.0.0.1", "KERASTUNER_TUNER_ID": "tuner0"},
     "KERASTUNER_ORACLE_IP='10.0.0.1' needs KERASTUNER_ORACLE_PORT: the chief's port."),
    ({"KERASTUNER_ORACLE_IP": "10.0.0.1", "KERASTUNER_ORACLE_PORT": "8000"},
     "KERASTUNER_ORACLE_IP='10.0.0.1' needs KERASTUNER_TUNER_ID: 'chief' or a worker's id"),
    ({"KERASTUNER_TUNER_ID": "chief2"},
     "KERASTUNER_TUNER_ID='chief2' is not allowed: 'chief' for the chief"),
    ({"KERAS_ROBUST_LAUNCHER_PID": "me"},
     "KERAS_ROBUST_LAUNCHER_PID='me' is not allowed: a process id."),
])
def test_a_bad_variable_is_one_line_naming_it(environ, message):
    with pytest.raises(SweepError) as raised:
        SweepEnvironment.from_environ(environ)
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)


def test_a_value_built_by_hand_is_checked_too():
    with pytest.raises(SweepError, match="KERAS_ROBUST_HEARTBEAT_TIMEOUT=-1 is not allowed"):
        SweepEnvironment(heartbeat_timeout=-1)
