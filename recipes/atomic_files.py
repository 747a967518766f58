"""Safe file writes: a reader sees the old file or the new one, never half.

`write_text`, `write_json`, `write_bytes`, `write_with` and `save_figure`
go through a temporary file in the target's directory, flushed to disk,
then `os.replace` (atomic on POSIX and Windows). On any error, interruption
included, the temporary file is removed and the error propagates.
`append_json_line` adds one line to a log with a single `O_APPEND` write,
which concurrent workers may share. `set_aside` renames a damaged file or
directory out of the way, keeping it for inspection;
`remove_stale_temporaries` removes the temporary files a killed writer
left behind. Every file gets the
mode a plain `open(path, "w")` would give it (0666 less the umask, so 0644
by default), so that other users of a shared file system can read a
sweep's results.
"""

import contextlib
import json
import os
import tempfile

TEMPORARY_PREFIX = ".tmp-"


def _current_umask():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def new_file_mode():
    """The mode `open(path, "w")` gives a new file: 0o666 less the umask."""
    return 0o666 & ~_current_umask()


@contextlib.contextmanager
def _temporary_beside(path, suffix):
    """Yields a temporary path next to `path`; moves it onto `path` on success."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=TEMPORARY_PREFIX, suffix=suffix)
    os.close(handle)
    try:
        yield temporary
        # mkstemp creates the file 0600 whatever the umask.
        os.chmod(temporary, new_file_mode())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_text(path, text):
    """Writes `text` (UTF-8) to `path` atomically."""
    write_bytes(path, lambda file: file.write(text.encode("utf-8")))


def write_bytes(path, write):
    """Calls `write(file)` on a binary file that becomes `path` atomically."""
    with _temporary_beside(path, os.path.basename(path)) as temporary:
        with open(temporary, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())


def write_json(path, data):
    """Writes `data` as JSON to `path` atomically."""
    write_text(path, json.dumps(data, indent=1, allow_nan=True))


def write_with(path, save):
    """Calls `save(temporary_path)`, then moves that file onto `path` atomically.

    The temporary path ends like `path` (e.g. `.keras`), for writers such
    as `keras.Model.save` that check the extension.
    """
    with _temporary_beside(path, os.path.basename(path)) as temporary:
        save(temporary)


def save_figure(figure, path, **savefig_kwargs):
    """Saves a matplotlib `figure` as PNG to `path` atomically."""
    write_with(path, lambda temporary: figure.savefig(
        temporary, format="png", **savefig_kwargs))


def set_aside(path):
    """Renames `path` to `<path>.damaged` (`.damaged-2`, ... if taken); returns it."""
    target = f"{path}.damaged"
    number = 1
    while os.path.exists(target):
        number += 1
        target = f"{path}.damaged-{number}"
    os.replace(path, target)
    return target


def remove_stale_temporaries(directory):
    """Removes the temporary files of interrupted writes in `directory`; returns their paths.

    Call it only where no other process writes at the same time (a run
    directory whose run this process holds).
    """
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    removed = []
    for name in sorted(names):
        path = os.path.join(directory, name)
        if name.startswith(TEMPORARY_PREFIX) and os.path.isfile(path):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
                removed.append(path)
    return removed


def append_json_line(path, entry):
    """Appends `entry` as one JSON line to `path` in a single write."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    line = (json.dumps(entry) + "\n").encode("utf-8")
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(descriptor, line)
    finally:
        os.close(descriptor)


def read_json_lines(path):
    """The entries of a JSON-lines file; empty if it does not exist."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]
