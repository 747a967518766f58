r"""The chief of a distributed sweep, and the workers' patient line to it.

The chief (`KERASTUNER_TUNER_ID=chief`) trains nothing: `serve_chief`
serves its oracle (`recipes.oracle.RunGridOracle`) over keras-tuner's gRPC
service until every trial ended, requeues the run of a worker that stopped
heartbeating, and says every heartbeat timeout what it waits for. A
worker's calls go through a `PatientStub`, which retries a chief that does
not answer (a chief killed and started again on the same port is found
again) for `SweepEnvironment.chief_timeout` seconds, then gives up with
`ChiefLostError`.
"""

import sys
import time

import keras_tuner

from recipes.distributed import CHIEF_TIMEOUT_ENV
from recipes.distributed import SweepError


class ChiefLostError(SweepError, keras_tuner.errors.FatalError):
    """A worker got no answer from its chief for the chief timeout."""


class PatientStub:
    """A keras-tuner gRPC stub to the chief at `address` whose calls retry.

    keras-tuner's `OracleClient` waits up to an hour per call. Here each
    attempt waits at most `attempt_seconds`; an unreachable chief is tried
    again with exponential backoff (1 s, 2 s, ... up to 30 s) for
    `patience` seconds in all, then `ChiefLostError` is raised; at once if
    `sweep_is_done()` says every run has its results (the chief ended). A
    chief restarted on the same address is found again. Every call of the
    sweep can be repeated safely (a repeated CreateTrial returns the same
    trial).

    Args:
        address: `ip:port` of the chief.
        patience: Seconds to retry in all.
        name: This worker's tuner id, for its messages.
    """

    def __init__(self, address, patience, name, attempt_seconds=10.0, out=sys.stderr,
                 sweep_is_done=lambda: False):
        import grpc
        from keras_tuner.src import protos

        # gRPC's own reconnection backoff grows to 2 minutes: capped at 5 s,
        # so that a restarted chief is found within seconds.
        channel = grpc.insecure_channel(
            address,
            options=[
                ("grpc.initial_reconnect_backoff_ms", 500),
                ("grpc.max_reconnect_backoff_ms", 5000),
            ],
        )
        self._stub = protos.get_service_grpc().OracleStub(channel)
        self._address = address
        self._patience = patience
        self._name = name
        self._attempt_seconds = attempt_seconds
        self._out = out
        self._sweep_is_done = sweep_is_done

    def __getattr__(self, name):
        import grpc

        method = getattr(self._stub, name)
        retried = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)

        def call(request, **kwargs):
            deadline = time.monotonic() + self._patience
            delay = 1.0
            told = False
            while True:
                left = deadline - time.monotonic()
                try:
                    return method(
                        request, wait_for_ready=True,
                        timeout=max(0.1, min(self._attempt_seconds, left)),
                    )
                except grpc.RpcError as error:
                    if error.code() not in retried:
                        raise
                left = deadline - time.monotonic()
                if left <= 0 or self._sweep_is_done():
                    raise ChiefLostError(
                        f"{self._name}: lost the chief at {self._address}: no answer "
                        f"for {self._patience:g} s ({CHIEF_TIMEOUT_ENV}); start the "
                        "chief again, then this worker."
                    )
                if not told:
                    print(
                        f"{self._name}: no answer from the chief at {self._address}; "
                        f"retrying for up to {self._patience:g} s.",
                        file=self._out, flush=True,
                    )
                    told = True
                time.sleep(min(delay, left))
                delay = min(2 * delay, 30.0)

        return call


def serve_chief(oracle, address, poll_seconds=1.0):
    """Serves `oracle` at `address` (keras-tuner's gRPC servicer) until the sweep ends.

    Unlike keras-tuner's `start_server`, which waits for every worker that
    ever connected, this requeues the trials of dead workers
    (`RunGridOracle.requeue_dead_trials`), prints what it waits for every
    `oracle.heartbeat_timeout` seconds, and returns once every trial ended
    and the live workers were told to stop (or `heartbeat_timeout` after
    the end, for workers that do not ask again).

    Raises:
        SweepError: if `address` cannot be bound.
    """
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    protos.get_service_grpc().add_OracleServicer_to_server(
        oracle_chief.OracleServicer(oracle), server
    )
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:
        bound = 0
    if not bound:
        raise SweepError(
            f"The chief cannot listen on {address}: in use (is another chief running?)."
        )
    server.start()
    period = oracle.heartbeat_timeout
    done_since = None
    last_said = time.monotonic()
    try:
        while True:
            time.sleep(poll_seconds)
            oracle.requeue_dead_trials()
            now = time.monotonic()
            if oracle.is_done():
                done_since = now if done_since is None else done_since
                if not oracle.tuner_ids or now - done_since > period:
                    return
                continue
            done_since = None
            if now - last_said >= period:
                last_said = now
                print(oracle.status_line(), flush=True)
    finally:
        server.stop(grace=1.0)
