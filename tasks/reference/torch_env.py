"""What a PyTorch twin runs on, for its JSON: version, threads, and which BLAS the process actually loaded.

Debian's python3-torch links `libblas.so.3`, which `update-alternatives` points at OpenBLAS
(libopenblas0-pthread) or at the slow reference BLAS (libblas3); PyTorch's `BLAS_INFO=generic` does not say which.
The loaded file is read from /proc/self/maps after one matrix product, and resolved through its symlinks.
"""
import os

import torch


def _loaded_blas():
    """Real paths of the BLAS-like libraries mapped into this process (Linux)."""
    found = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                name = os.path.basename(path)
                if any(k in name for k in ("blas", "mkl_rt", "mkl_core", "blis", "atlas")) and path not in found:
                    found.append(path)
    except OSError:
        pass
    return sorted({os.path.realpath(p) for p in found})


def _kind(paths):
    joined = " ".join(paths)
    for key, kind in (("openblas", "openblas"), ("mkl", "mkl"), ("blis", "blis"), ("atlas", "atlas")):
        if key in joined:
            return kind
    if any(p.endswith("/blas/libblas.so.3") or "libblas.so.3" in os.path.basename(p) for p in paths):
        return "reference"
    return "unknown"


def describe():
    """JSON-ready facts: torch version, intra/inter-op threads, the BLAS file and kind, the build configuration."""
    a = torch.randn(64, 64)
    (a @ a).sum().item()  # loads the BLAS if it is loaded lazily
    paths = _loaded_blas()
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "interopThreads": torch.get_num_interop_threads(),
        "blas": {"kind": _kind(paths), "libraries": paths},
        "mkldnn": torch.backends.mkldnn.is_available(),
        "config": torch.__config__.show().strip(),
        "parallel": torch.__config__.parallel_info().strip(),
    }
