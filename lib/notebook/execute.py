"""Execute one notebook headless with the Deno kernel, then export it to HTML.

Run by tasks/notebooks.ts on Debian's python3 (nbclient 0.7, nbconvert 6.5):

    /usr/bin/python3 lib/notebook/execute.py IN.ipynb OUT.ipynb OUT.html [--kernel deno] [--timeout 600]

The kernel is found through JUPYTER_PATH (the kit's jupyter/ folder); it runs with the notebook's folder as its
working directory, so relative imports such as ../lib/... resolve as they do in Jupyter. On a failing cell the
cell's error is printed to stderr and the exit status is 1; nothing is written. On success the last stdout line
is JSON: {"seconds": ..., "cells": ...}.

Why a subclass: Deno 2.9's kernel sometimes sends `status: idle` a moment before a cell's last outputs, and
nbclient stops collecting at idle, so an executed notebook could silently miss outputs. GraceClient keeps
reading iopub for 50 ms after idle (late messages arrive < 1 ms after it).
"""
import argparse
import json
import os
import sys
import time
from queue import Empty

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete, CellExecutionError, DeadKernelError
from nbclient.util import ensure_async
from nbconvert import HTMLExporter

GRACE_S = 0.05


class GraceClient(NotebookClient):
    """NotebookClient that keeps collecting a cell's outputs for GRACE_S after the kernel reports idle."""

    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
        done = False
        while True:
            try:
                msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=GRACE_S if done else None))
            except Empty:
                return
            if msg["parent_header"].get("msg_id") != parent_msg_id:
                continue
            try:
                self.process_message(msg, cell, cell_index)
            except CellExecutionComplete:
                done = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("html")
    ap.add_argument("--kernel", default="deno")
    ap.add_argument("--timeout", type=int, default=600)
    args = ap.parse_args()

    nb = nbformat.read(args.input, as_version=4)
    cwd = os.path.dirname(os.path.abspath(args.input))
    client = GraceClient(
        nb,
        timeout=args.timeout,
        kernel_name=args.kernel,
        resources={"metadata": {"path": cwd}},
    )
    start = time.monotonic()
    try:
        client.execute()
    except CellExecutionError as err:
        print(f"cell error in {args.input}:\n{err}", file=sys.stderr)
        return 1
    except DeadKernelError as err:
        print(f"kernel died while executing {args.input}: {err}", file=sys.stderr)
        return 1
    seconds = time.monotonic() - start

    nbformat.write(nb, args.output)
    html, _ = HTMLExporter(template_name="classic").from_notebook_node(nb)
    with open(args.html, "w", encoding="utf-8") as f:
        f.write(html)
    cells = sum(1 for c in nb.cells if c.cell_type == "code")
    print(json.dumps({"seconds": round(seconds, 3), "cells": cells}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
