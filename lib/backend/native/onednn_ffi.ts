/**
 * Deno FFI binding to oneDNN 2.x's C API (`libdnnl.so.2`, Debian package `libdnnl2`): the CPU engine PyTorch
 * itself uses for convolutions. Nothing is compiled: the library is opened with `Deno.dlopen` and called with
 * plain integers and pointers, so the kit needs only the runtime package (`apt-get install libdnnl2`), no
 * headers and no C compiler.
 *
 * The struct sizes and enum values below were read from oneDNN 2.6.3's headers (`libdnnl-dev`) with a small C
 * program (`sizeof(dnnl_memory_desc_t)` = 696, `sizeof(dnnl_convolution_desc_t)` = 5976, …); oneDNN keeps
 * them stable across 2.x, and {@link openOneDnn} checks the library's major version before use.
 *
 * @module
 */

/** Enum values and sizes from oneDNN 2.6.3's `dnnl_types.h`. */
export const DNNL = {
  success: 0,
  f32: 3,
  tagAny: 1,
  tagNhwc: 20,
  tagHwio: 30,
  cpuEngine: 1,
  streamDefault: 1,
  forwardTraining: 64,
  backwardData: 160,
  backwardWeights: 192,
  convolutionDirect: 1,
  argSrc: 1,
  argDst: 17,
  argWeights: 33,
  argDiffSrc: 129,
  argDiffDst: 145,
  argDiffWeights: 161,
  argFrom: 1,
  argTo: 17,
  querySrcMd: 129,
  queryDiffSrcMd: 130,
  queryWeightsMd: 131,
  queryDiffWeightsMd: 132,
  queryDstMd: 133,
  queryDiffDstMd: 134,
  queryImplInfoStr: 8,
  /** sizeof(dnnl_memory_desc_t); buffers are over-allocated a little for safety. */
  memoryDescBytes: 696,
  /** sizeof(dnnl_convolution_desc_t). */
  convDescBytes: 5976,
  /** sizeof(dnnl_exec_arg_t): `{ int arg; dnnl_memory_t memory; }`. */
  execArgBytes: 16,
  /** `DNNL_MEMORY_ALLOCATE`: let the library allocate a memory object's buffer. */
  memoryAllocate: 0xffff_ffff_ffff_ffffn,
} as const;

const SYMBOLS = {
  dnnl_version: { parameters: [], result: "pointer" },
  dnnl_engine_create: { parameters: ["buffer", "i32", "usize"], result: "i32" },
  dnnl_engine_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_stream_create: { parameters: ["buffer", "pointer", "u32"], result: "i32" },
  dnnl_stream_wait: { parameters: ["pointer"], result: "i32" },
  dnnl_stream_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_memory_desc_init_by_tag: { parameters: ["buffer", "i32", "buffer", "i32", "i32"], result: "i32" },
  dnnl_memory_desc_equal: { parameters: ["pointer", "pointer"], result: "i32" },
  dnnl_memory_desc_get_size: { parameters: ["pointer"], result: "usize" },
  dnnl_convolution_forward_desc_init: {
    parameters: ["buffer", "i32", "i32", "buffer", "buffer", "pointer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  dnnl_convolution_backward_data_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  dnnl_convolution_backward_weights_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "pointer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  dnnl_primitive_desc_create: { parameters: ["buffer", "buffer", "pointer", "pointer", "pointer"], result: "i32" },
  dnnl_primitive_desc_query: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
  dnnl_primitive_desc_query_md: { parameters: ["pointer", "i32", "i32"], result: "pointer" },
  dnnl_primitive_desc_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_reorder_primitive_desc_create: {
    parameters: ["buffer", "pointer", "pointer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  dnnl_primitive_create: { parameters: ["buffer", "pointer"], result: "i32" },
  dnnl_primitive_execute: { parameters: ["pointer", "pointer", "i32", "buffer"], result: "i32" },
  dnnl_primitive_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_memory_create: { parameters: ["buffer", "pointer", "pointer", "pointer"], result: "i32" },
  dnnl_memory_set_data_handle: { parameters: ["pointer", "pointer"], result: "i32" },
  dnnl_memory_destroy: { parameters: ["pointer"], result: "i32" },
  /** Row-major C = α·op(A)·op(B) + β·C (`dnnl_sgemm(transa, transb, M, N, K, α, A, lda, B, ldb, β, C, ldc)`). */
  dnnl_sgemm: {
    parameters: ["u8", "u8", "i64", "i64", "i64", "f32", "pointer", "i64", "pointer", "i64", "f32", "pointer", "i64"],
    result: "i32",
  },
} as const;

/** The opened library's symbols. */
export type OneDnnSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** An opened oneDNN: symbols plus one CPU engine and one stream for the whole process. */
export interface OneDnn {
  lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  sym: OneDnnSymbols;
  engine: Deno.PointerObject;
  stream: Deno.PointerObject;
  /** e.g. "2.6.3". */
  version: string;
  /** Library file that was opened. */
  path: string;
  /**
   * Sets the OpenMP team size for the next oneDNN calls (libgomp's `omp_set_num_threads`; a no-op where libgomp
   * cannot be opened). oneDNN bakes the team size into a primitive when it is created, so set it before building
   * a plan's primitives and before running them.
   */
  setThreads: (n: number) => void;
  /** OpenMP's default team size (`OMP_NUM_THREADS`, else the core count). */
  maxThreads: number;
}

/** Result of {@link openOneDnn}: the library, or why it could not be used (a one-line reason for the log). */
export type OpenResult = { ok: true; dnn: OneDnn } | { ok: false; reason: string };

/** Library names tried in order (`SF2_ONEDNN_LIB` overrides). */
export const ONEDNN_LIBRARY_NAMES = ["libdnnl.so.2", "libdnnl.so", "/usr/lib/x86_64-linux-gnu/libdnnl.so.2"];

/** Throws a readable error when a oneDNN call does not return dnnl_success. */
export function check(status: number, what: string): void {
  if (status !== DNNL.success) throw new Error(`oneDNN: ${what} failed (dnnl_status_t ${status})`);
}

/** Reads the pointer written into an 8-byte out-parameter buffer. */
export function outPointer(buf: BigUint64Array, what: string): Deno.PointerObject {
  const p = Deno.UnsafePointer.create(buf[0]);
  if (p === null) throw new Error(`oneDNN: ${what} returned a null handle`);
  return p;
}

/**
 * Opens oneDNN once (cached on globalThis, so module copies share one engine). Returns a reason instead of
 * throwing when the library is absent, FFI is not permitted, or its major version is not 2. Explicit `names`
 * (tests) bypass the cache.
 */
export function openOneDnn(names?: readonly string[]): OpenResult {
  if (names !== undefined) return tryOpen(names);
  const store = globalThis as unknown as Record<symbol, OpenResult | undefined>;
  const cached = store[CACHE_KEY];
  if (cached !== undefined) return cached;
  const result = tryOpen(libraryNames());
  store[CACHE_KEY] = result;
  return result;
}

const CACHE_KEY = Symbol.for("sphereface2-kit/onednn");

function libraryNames(): string[] {
  let override: string | undefined;
  try {
    override = Deno.env.get("SF2_ONEDNN_LIB");
  } catch {
    override = undefined;
  }
  return override ? [override] : [...ONEDNN_LIBRARY_NAMES];
}

function tryOpen(names: readonly string[]): OpenResult {
  if (typeof Deno.dlopen !== "function") return { ok: false, reason: "Deno.dlopen is unavailable" };
  const errors: string[] = [];
  for (const path of names) {
    let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
    try {
      lib = Deno.dlopen(path, SYMBOLS);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      if (/ffi|permission|NotCapable/i.test(msg) && !/cannot open|No such file/i.test(msg)) {
        return { ok: false, reason: `FFI not permitted (run with --allow-ffi or -A): ${msg.split("\n")[0]}` };
      }
      errors.push(`${path}: ${msg.split("\n")[0].slice(0, 120)}`);
      continue;
    }
    try {
      const version = readVersion(lib.symbols);
      if (!version.startsWith("2.")) {
        lib.close();
        errors.push(`${path}: oneDNN ${version}, need 2.x`);
        continue;
      }
      const out = new BigUint64Array(1);
      check(lib.symbols.dnnl_engine_create(out, DNNL.cpuEngine, 0n), "engine_create");
      const engine = outPointer(out, "engine_create");
      check(lib.symbols.dnnl_stream_create(out, engine, DNNL.streamDefault), "stream_create");
      const stream = outPointer(out, "stream_create");
      const omp = openOpenMp();
      return { ok: true, dnn: { lib, sym: lib.symbols, engine, stream, version, path, ...omp } };
    } catch (err) {
      lib.close();
      errors.push(`${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return { ok: false, reason: `oneDNN not found (apt-get install libdnnl2): ${errors.join("; ")}` };
}

/**
 * libgomp, the OpenMP runtime Debian's libdnnl2 is linked against (the same, already loaded, instance). Without
 * it oneDNN uses OMP_NUM_THREADS / all cores for every call.
 */
function openOpenMp(): { setThreads: (n: number) => void; maxThreads: number } {
  try {
    const gomp = Deno.dlopen("libgomp.so.1", {
      omp_set_num_threads: { parameters: ["i32"], result: "void" },
      omp_get_max_threads: { parameters: [], result: "i32" },
    });
    const maxThreads = gomp.symbols.omp_get_max_threads();
    let current = maxThreads;
    return {
      maxThreads,
      setThreads: (n: number) => {
        if (n !== current) gomp.symbols.omp_set_num_threads(n);
        current = n;
      },
    };
  } catch {
    return { maxThreads: navigator.hardwareConcurrency ?? 1, setThreads: () => {} };
  }
}

/** `dnnl_version()` points at `{ int major, minor, patch; const char *hash; unsigned cpu_runtime, gpu_runtime; }`. */
function readVersion(sym: OneDnnSymbols): string {
  const p = sym.dnnl_version();
  if (p === null) throw new Error("dnnl_version returned null");
  const view = new Deno.UnsafePointerView(p);
  return `${view.getInt32(0)}.${view.getInt32(4)}.${view.getInt32(8)}`;
}

/** The implementation oneDNN picked for a primitive descriptor, e.g. "brg:avx512_core" (for logs and tests). */
export function implName(dnn: OneDnn, pd: Deno.PointerObject): string {
  const out = new BigUint64Array(1);
  check(dnn.sym.dnnl_primitive_desc_query(pd, DNNL.queryImplInfoStr, 0, out), "query impl_info_str");
  const p = Deno.UnsafePointer.create(out[0]);
  return p === null ? "?" : Deno.UnsafePointerView.getCString(p);
}
