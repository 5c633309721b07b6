"""Send a rule's output both to its Snakemake log file and to the terminal."""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

from lifedl.distributed import is_first_process
from lifedl.errors import LifedlError


class _Tee:
    def __init__(self, *streams):
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
            stream.flush()
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()

    def isatty(self) -> bool:
        return False


@contextlib.contextmanager
def logged(log_path: str | None) -> Iterator[None]:
    """Tee stdout/stderr into ``log_path``; a LifedlError is written as a one-line message, not a traceback.
    The other processes of a data-parallel training print to the terminal only: the log is the first's."""
    if not log_path or not is_first_process():
        yield
        return
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        stdout, stderr = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Tee(stdout, log), _Tee(stderr, log)
        try:
            yield
        except LifedlError as error:
            print(f"lifedl error: {error}", file=sys.stderr)
            raise SystemExit(1) from None
        except BaseException:
            traceback.print_exc(file=log)
            raise
        finally:
            sys.stdout, sys.stderr = stdout, stderr
