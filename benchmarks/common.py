"""Shared helpers of the benchmarks: paths, threads, interleaved timing.

Every benchmark times the things it compares in one process, alternating
them round by round (A, B, C, then B, C, A, ...), so that load from other
processes and CPU frequency drift hit all of them alike. It reports the
median time per step of each and the median over rounds of the per-round
ratio to the baseline, which cancels drift that is slower than a round.
"""

import math
import os
import statistics
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# `--max_isa` values: the instruction sets a CPU without AVX-512 offers, for
# oneDNN (TensorFlow's and PyTorch's kernels) and for PyTorch's own ATen
# kernels.
EMULATED_ISAS = {
    "avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"},
}


def add_max_isa_flag(parser):
    """Adds `--max_isa` (a key of `EMULATED_ISAS`) to an argparse parser."""
    parser.add_argument(
        "--max_isa",
        choices=sorted(EMULATED_ISAS),
        help="cap oneDNN and PyTorch at this instruction set (stands in "
        "for a CPU without AVX-512)",
    )


def setup(backend="tensorflow", max_isa=None):
    """Puts the repository on `sys.path`, picks the backend, and applies
    what every recipe's command line sets up
    (`recipes.start_tensorflow_quietly()`: TensorFlow's oneDNN kernels on
    unless `TF_ENABLE_ONEDNN_OPTS` is set, start-up logging quiet).

    Call before anything imports Keras, TensorFlow or PyTorch. An explicit
    `KERAS_BACKEND` in the environment wins. `max_isa="avx2"` caps oneDNN and
    PyTorch at AVX2 (`EMULATED_ISAS`), which stands in for a CPU without
    AVX-512; subprocesses inherit it.
    """
    if REPO_ROOT not in sys.path:
        sys.path.insert(0, REPO_ROOT)
    os.environ.setdefault("KERAS_BACKEND", backend)
    if max_isa is not None:
        os.environ.update(EMULATED_ISAS[max_isa])
    import recipes

    recipes.start_tensorflow_quietly()


def child_environment(**overrides):
    """The environment of a `recipes.main` command a benchmark starts.

    This process's, without keras-tuner's distributed variables (the child
    must not join another sweep's chief), with the repository first on
    `PYTHONPATH`, and `overrides` set.
    """
    from recipes import distributed

    env = {name: value for name, value in os.environ.items()
           if name not in distributed.DISTRIBUTED_ENV}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO_ROOT, env.get("PYTHONPATH")]))
    env.update(overrides)
    return env


def _cpuinfo_field(name):
    """The first `name : value` line's value in /proc/cpuinfo, or None."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith(name):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model():
    """The CPU's model name, from /proc/cpuinfo ("unknown" elsewhere)."""
    return _cpuinfo_field("model name") or "unknown"


def vector_extensions():
    """The SIMD extensions the CPU reports that matter for these kernels."""
    interesting = (
        "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl",
        "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_bf16",
    )
    flags = set((_cpuinfo_field("flags") or "").split())
    return [name for name in interesting if name in flags]


def tensorflow_onednn_enabled():
    """Whether TensorFlow runs its oneDNN kernels in this process (None
    when TensorFlow is not installed)."""
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:
        return None
    return bool(_pywrap_util_port.IsMklEnabled())


def machine_summary():
    """One line: CPU model, cores, vector extensions, oneDNN state, ISA cap."""
    onednn = tensorflow_onednn_enabled()
    onednn = {None: "no TensorFlow", True: "on", False: "off"}[onednn]
    setting = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset")
    line = (
        f"CPU: {cpu_model()}, {num_cores()} cores, "
        f"{' '.join(vector_extensions()) or 'no SIMD flags read'}; "
        f"TensorFlow oneDNN {onednn} (TF_ENABLE_ONEDNN_OPTS={setting})"
    )
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA")
    if cap:
        line += (
            f"; emulating a CPU without AVX-512: ONEDNN_MAX_CPU_ISA={cap}, "
            f"ATEN_CPU_CAPABILITY={os.environ.get('ATEN_CPU_CAPABILITY')}"
        )
    return line


def resnet32(input_shape=(32, 32, 3), num_classes=10, keras_batch_norm=False):
    """`zoo.resnet32`, or with `keras_batch_norm=True` the same network with
    Keras's own BatchNormalization instead of `zoo.FusedBatchNormalization`."""
    import zoo

    return zoo.resnet32(
        input_shape,
        num_classes,
        normalization="keras" if keras_batch_norm else "fused",
    )


def num_cores():
    """CPU cores this process may run on (what `torch` and TF should use)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def time_call(fn, steps):
    """Seconds per call of `fn()` over `steps` calls; `fn` must block."""
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps


def interleaved(
    candidates, rounds, steps_per_round=1, warmup=1, log=None, pause=0.0
):
    """Times several step functions in alternation.

    Args:
        candidates: Dict `name -> fn`; each `fn()` runs one step and returns
            after the work is done (fetch a value if the backend is async).
        rounds: Number of rounds; each round times every candidate once.
        steps_per_round: Calls per candidate per round (their mean is the
            round's sample).
        warmup: Untimed calls per candidate before the first round.
        log: Optional `print`-like callable for progress.
        pause: Seconds to sleep, untimed, before each candidate's turn, so
            that worker threads still spinning after the previous candidate
            (OpenMP, Eigen) do not steal cores from the next one.

    Returns:
        Dict `name -> list of seconds per step`, one entry per round.
    """
    names = list(candidates)
    for name in names:
        for _ in range(warmup):
            candidates[name]()
    samples = {name: [] for name in names}
    for round_index in range(rounds):
        # Rotate the order so no candidate always follows the same one.
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            if pause:
                time.sleep(pause)
            samples[name].append(time_call(candidates[name], steps_per_round))
        if log is not None:
            log(
                f"round {round_index + 1}/{rounds}: "
                + ", ".join(
                    f"{name} {samples[name][-1] * 1e3:.0f}" for name in names
                )
                + " ms"
            )
    return samples


def median(values):
    return statistics.median(values)


def paired_ratio(samples, name, baseline):
    """Median over rounds of `time(name) / time(baseline)` in the same round."""
    return statistics.median(
        a / b for a, b in zip(samples[name], samples[baseline])
    )


def spread(values):
    """Interquartile range relative to the median, a noise indicator."""
    if len(values) < 4:
        return float("nan")
    quartiles = statistics.quantiles(values, n=4)
    return (quartiles[2] - quartiles[0]) / statistics.median(values)


def median_interval(values, confidence=0.95):
    """Distribution-free confidence interval of the median (order statistics).

    The widest `(x_(k), x_(n-k+1))` with `P(Binomial(n, 1/2) < k) <=
    (1 - confidence) / 2`; the full range when there are too few values.
    """
    values = sorted(values)
    n = len(values)
    alpha = (1.0 - confidence) / 2.0
    k, cumulative = 0, 0.0
    while True:
        cumulative += math.comb(n, k) / 2.0**n
        if cumulative > alpha:
            break
        k += 1
    k = max(k, 1)
    return values[k - 1], values[n - k]


def paired_ratios(samples, name, baseline):
    """Per-round ratios `time(name) / time(baseline)`."""
    return [a / b for a, b in zip(samples[name], samples[baseline])]
