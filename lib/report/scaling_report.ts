/**
 * The multi-device report of the sharded head: measured throughput, bytes and rounds for every loss × K × shard
 * count ({@link scalingReport}), the cost model beside the counts, the memory per shard and the K that fits, and
 * the model's extrapolation to 8 GPUs anchored on insightface's published Partial FC table. Every number is
 * labelled **measured** (run here), **modelled** (`cost_model.ts`, assumptions stated) or **quoted** (published).
 * {@link scalingFigures} draws the SVGs, {@link scalingMarkdown} the report, {@link writeScalingReport} writes
 * the folder (`deno task bench head-scaling`; a notebook can call the same functions).
 *
 * @example
 * ```ts
 * import { scalingReport, writeScalingReport } from "./scaling_report.ts";
 * const data = await scalingReport({ losses: ["sphereface2"], classes: [1000], shards: [1, 2], batch: 16, dim: 32, warmup: 1, steps: 2 });
 * await writeScalingReport("results/parallel", data);
 * ```
 * @module
 */
import * as Plot from "@observablehq/plot";
import { benchShardedHead, type ShardedBenchResult } from "../bench/head_parallel.ts";
import type { HeadType } from "../losses/config.ts";
import { renderSvg } from "../render/svg.ts";
import type { Figure } from "./loss_figures.ts";
import { fixed, markdownTable } from "../render/markdown.ts";
import { type RunMetadata, runMetadata } from "../fs/metadata.ts";
import { formatJson, writeDirAtomic, writeFileIn } from "../fs/write.ts";
import {
  DEVICE_MODELS,
  fitShardMemory,
  headFamily,
  maxClasses,
  PARTIAL_FC_TABLE,
  partialFcAnchor,
  ringTraffic,
  stepTimeModel,
} from "../parallel/cost_model.ts";
import type { ShardBackend } from "../parallel/protocol.ts";

export interface ScalingOptions {
  losses: HeadType[];
  classes: number[];
  shards: number[];
  batch: number;
  dim: number;
  warmup: number;
  steps: number;
  backend?: ShardBackend;
  /** Called after each measurement (progress). */
  onResult?: (row: MeasuredRow) => void;
}

/** A measurement plus the machine's load average when it started and ended. */
export interface MeasuredRow extends ShardedBenchResult {
  loadBefore: number | null;
  loadAfter: number | null;
}

export interface ScalingData {
  meta: RunMetadata;
  machine: { cpus: number; loadNote: string };
  measured: MeasuredRow[];
  /** Modelled: memory fit per loss (from the measured heaps), and the largest K under 4 GiB per shard. */
  memory: { loss: HeadType; perClass: number; base: number; maxClasses: { shards: number; classes: number }[] }[];
  /** Modelled: head-only step on P GPUs for the stated device/link assumptions. */
  extrapolation: {
    device: string;
    family: "sphereface2" | "softmax";
    shards: number;
    classes: number;
    perGpuBatch: number;
    bytesPerGpu: number;
    collectives: number;
    commMs: number;
    computeMs: number;
    imagesPerSecond: number;
  }[];
  /** Modelled from the quoted table: whole-network samples/s on 8 V100s vs K, and SphereFace2's saving. */
  anchor: {
    a: number;
    c: number;
    predicted55M: number;
    quoted55M: number;
    rows: { classes: number; softmax: number; sphereface2: number; quoted: number | null }[];
  };
}

const EXTRAPOLATION_CLASSES = [100_000, 1_000_000, 10_000_000];
const EXTRAPOLATION_SHARDS = [1, 2, 4, 8];
const PER_GPU_BATCH = 128;

async function loadAverage(): Promise<number | null> {
  try {
    return Number((await Deno.readTextFile("/proc/loadavg")).split(" ")[0]);
  } catch {
    return null;
  }
}

/** Runs the measurements (sequentially: they share the machine's cores) and evaluates the models. */
export async function scalingReport(o: ScalingOptions): Promise<ScalingData> {
  const measured: MeasuredRow[] = [];
  for (const loss of o.losses) {
    for (const classes of o.classes) {
      for (const shards of o.shards) {
        const loadBefore = await loadAverage();
        const r = await benchShardedHead({ ...o, loss, classes, shards });
        const row = { ...r, loadBefore, loadAfter: await loadAverage() };
        measured.push(row);
        o.onResult?.(row);
      }
    }
  }
  return {
    meta: await runMetadata({ ...o, onResult: undefined }),
    machine: {
      cpus: navigator.hardwareConcurrency,
      loadNote: "load average (1 min) before/after each run is in `measured`; other processes share the cores",
    },
    measured,
    memory: memoryModels(measured),
    extrapolation: extrapolate(o.dim),
    anchor: anchorRows(o.dim),
  };
}

function memoryModels(rows: readonly MeasuredRow[]): ScalingData["memory"] {
  const out: ScalingData["memory"] = [];
  for (const loss of new Set(rows.map((r) => r.loss))) {
    const points = rows.filter((r) => r.loss === loss).flatMap((r) =>
      r.shardHeapMB.map((mb, i) => ({
        localClasses: r.localClasses[i],
        bytes: (mb ?? r.shardPeakTensorMB[i]) * 2 ** 20,
      }))
    );
    if (new Set(points.map((p) => p.localClasses)).size < 2) continue;
    const fit = fitShardMemory(points);
    out.push({
      loss,
      ...fit,
      maxClasses: [1, 2, 4, 8].map((shards) => ({ shards, classes: maxClasses({ shards, ...fit }) })),
    });
  }
  return out;
}

function extrapolate(dim: number): ScalingData["extrapolation"] {
  const out: ScalingData["extrapolation"] = [];
  for (const device of DEVICE_MODELS) {
    for (const family of ["sphereface2", "softmax"] as const) {
      for (const classes of EXTRAPOLATION_CLASSES) {
        for (const shards of EXTRAPOLATION_SHARDS) {
          const t = stepTimeModel(family, { shards, perGpuBatch: PER_GPU_BATCH, dim, classes, device });
          const ring = ringTraffic(family, { shards, perGpuBatch: PER_GPU_BATCH, dim });
          out.push({
            device: device.name,
            family,
            shards,
            classes,
            perGpuBatch: PER_GPU_BATCH,
            bytesPerGpu: shards === 1 ? 0 : ring.bytesPerGpu,
            collectives: shards === 1 ? 0 : ring.collectives,
            commMs: t.commSeconds * 1e3,
            computeMs: t.computeSeconds * 1e3,
            imagesPerSecond: t.imagesPerSecond,
          });
        }
      }
    }
  }
  return out;
}

/**
 * 1/throughput = a + c·K from the quoted model-parallel rows (softmax, 8 GPUs, batch 8×128); SphereFace2 saves
 * the three B-sized all-reduces per step: Δt = 3·(α + 2·(7/8)·4B/β) with the NVLink assumptions.
 */
function anchorRows(dim: number): ScalingData["anchor"] {
  const fit = partialFcAnchor();
  const nv = DEVICE_MODELS[0];
  const B = 8 * PER_GPU_BATCH;
  const saved = ringTraffic("softmax", { shards: 8, perGpuBatch: PER_GPU_BATCH, dim }).bytesPerGpu -
    ringTraffic("sphereface2", { shards: 8, perGpuBatch: PER_GPU_BATCH, dim }).bytesPerGpu;
  const savedSecondsPerSample = (2 * nv.latency + saved / nv.bandwidth) / B;
  const ks = [125_000, 1_400_000, 5_500_000, 10_000_000];
  return {
    ...fit,
    rows: ks.map((classes) => {
      const t = fit.a + fit.c * classes;
      const quoted = PARTIAL_FC_TABLE.find((r) => r.identities === classes)?.modelParallel?.[0] ?? null;
      return { classes, softmax: 1 / t, sphereface2: 1 / (t - savedSecondsPerSample), quoted };
    }),
  };
}

const label = (r: { loss: string; classes: number }) => `${r.loss}, K=${kFmt(r.classes)}`;
const kFmt = (k: number) => (k >= 1e6 ? `${k / 1e6}M` : k >= 1e3 ? `${k / 1e3}k` : String(k));

/** The three figures: measured scaling, measured vs modelled traffic, modelled extrapolation with quoted anchor. */
export function scalingFigures(data: ScalingData): Figure[] {
  const base = { width: 720, height: 360, style: "background: white", grid: true, swatches: "line" as const };
  const speed = data.measured.map((r) => ({ series: label(r), shards: r.shards, value: r.imagesPerSecond }));
  const ideal = data.measured.filter((r) => r.shards === 1).flatMap((one) =>
    [...new Set(data.measured.map((r) => r.shards))].map((shards) => ({
      series: label(one),
      shards,
      value: one.imagesPerSecond * shards,
    }))
  );
  const traffic = data.measured.map((r) => ({
    series: `${headFamily(r.loss)} measured`,
    shards: r.shards,
    kib: r.bytesPerStep / 1024,
  }));
  const trafficModel = data.measured.map((r) => ({
    series: `${headFamily(r.loss)} measured`,
    shards: r.shards,
    kib: r.modelBytesPerStep / 1024,
  }));
  const ext = data.extrapolation.filter((r) => r.classes === 1_000_000).map((r) => ({
    series: `${r.family}, ${r.device}`,
    shards: r.shards,
    value: r.imagesPerSecond,
  }));
  const anchor = data.anchor.rows.flatMap((r) => [
    { series: "softmax (modelled from quoted)", classes: r.classes, value: r.softmax },
    { series: "sphereface2 (modelled)", classes: r.classes, value: r.sphereface2 },
  ]);
  const quoted = data.anchor.rows.filter((r) => r.quoted !== null).map((r) => ({
    series: "Partial FC model parallel (quoted)",
    classes: r.classes,
    value: r.quoted!,
  }));
  const host = `${data.machine.cpus} CPU cores, wasm per shard`;
  return [
    {
      file: "scaling.svg",
      title: `MEASURED: images/s vs shards (${host})`,
      caption: "Measured head throughput per shard count (solid, dots) and ideal linear scaling from one shard " +
        "(dashed). Past the number of cores the shards share cores and the curve must flatten.",
      svg: renderSvg({
        ...base,
        heading: `MEASURED: sharded head images/s vs shards (${host})`,
        x: { label: "shards", ticks: [...new Set(speed.map((r) => r.shards))] },
        y: { label: "images/s", zero: true },
        marks: [
          Plot.line(ideal, { x: "shards", y: "value", stroke: "series", strokeDasharray: "4,3", strokeOpacity: 0.6 }),
          Plot.line(speed, { x: "shards", y: "value", stroke: "series" }),
          Plot.dot(speed, { x: "shards", y: "value", stroke: "series", fill: "series" }),
        ],
      }),
    },
    {
      file: "traffic.svg",
      title: "MEASURED bytes per step (dots) vs MODELLED (line)",
      caption: "Payload bytes per step through the coordinator: dots are the transport's counts, lines the cost " +
        "model (they coincide). Independent of K.",
      svg: renderSvg({
        ...base,
        heading: "MEASURED bytes/step (dots) vs MODELLED (lines), star topology",
        x: { label: "shards", ticks: [...new Set(traffic.map((r) => r.shards))] },
        y: { label: "KiB per step", zero: true },
        marks: [
          Plot.line(trafficModel, { x: "shards", y: "kib", stroke: "series" }),
          Plot.dot(traffic, { x: "shards", y: "kib", stroke: "series", r: 4 }),
        ],
      }),
    },
    {
      file: "extrapolation.svg",
      title: "MODELLED head images/s on 1–8 GPUs, K = 1M",
      caption: `Cost model only (not measured): per-GPU batch ${PER_GPU_BATCH}, d = 512, fp32; compute at the ` +
        "stated FLOP/s plus ring collectives at the stated link bandwidth and latency.",
      svg: renderSvg({
        ...base,
        heading: "MODELLED (not measured): head images/s, K = 1M, per-GPU batch 128",
        x: { label: "GPUs", ticks: EXTRAPOLATION_SHARDS },
        y: { label: "images/s (head only)", type: "log" },
        marks: [
          Plot.line(ext, { x: "shards", y: "value", stroke: "series" }),
          Plot.dot(ext, { x: "shards", y: "value", stroke: "series" }),
        ],
      }),
    },
    {
      file: "anchor.svg",
      title: "QUOTED Partial FC model-parallel throughput (dots) and the MODELLED fit",
      caption: "Dots: insightface's published model-parallel samples/s on 8×V100 (quoted). Lines: 1/(a + c·K) " +
        "fitted to the 125k and 1.4M rows (modelled; the 5.5M row is a check), and SphereFace2 with its three " +
        "all-reduces removed (modelled).",
      svg: renderSvg({
        ...base,
        heading: "QUOTED (dots) and MODELLED (lines): samples/s on 8×V100 vs identities",
        x: { label: "identities K", type: "log" },
        y: { label: "samples/s", zero: true },
        marks: [
          Plot.line(anchor, { x: "classes", y: "value", stroke: "series" }),
          Plot.dot(quoted, { x: "classes", y: "value", stroke: "series", r: 5 }),
        ],
      }),
    },
  ];
}

/** The report: measured, modelled and quoted tables, each labelled, with the figures. */
export function scalingMarkdown(data: ScalingData, figures: readonly Figure[]): string {
  const m = data.measured;
  const oneShard = (r: MeasuredRow) => m.find((o) => o.loss === r.loss && o.classes === r.classes && o.shards === 1);
  const parts = [
    "# Model-parallel classifier: scaling report\n",
    `Run ${data.meta.date}, kit ${data.meta.kitCommit}, Deno ${data.meta.deno}; ${data.machine.cpus} CPU cores. ` +
    "Each shard is a Deno Worker with its own single-threaded TensorFlow.js wasm backend; the main thread only " +
    "coordinates. Wall-clock ratios depend on the machine's load (the load column); the CPU-bound columns use " +
    "each shard thread's own CPU seconds (Linux /proc/thread-self): the speed-up if every shard had a core.\n",
    "## MEASURED: throughput, traffic and memory per step\n",
    markdownTable(
      [
        "loss",
        "K",
        "shards",
        "s/step",
        "images/s",
        "× 1 shard",
        "CPU s/step, busiest shard",
        "CPU-bound × 1 shard",
        "bytes/step",
        "model bytes",
        "rounds",
        "heap/shard MB",
        "load",
      ],
      m.map((r) => {
        const one = oneShard(r);
        const busiest = r.cpuBoundImagesPerSecond ? r.batch / r.cpuBoundImagesPerSecond : null;
        return [
          r.loss,
          kFmt(r.classes),
          r.shards,
          fixed(r.stepSeconds, 3),
          fixed(r.imagesPerSecond, 1),
          one ? fixed(r.imagesPerSecond / one.imagesPerSecond, 2) : null,
          fixed(busiest, 2),
          one?.cpuBoundImagesPerSecond && r.cpuBoundImagesPerSecond
            ? fixed(r.cpuBoundImagesPerSecond / one.cpuBoundImagesPerSecond, 2)
            : null,
          r.bytesPerStep,
          r.modelBytesPerStep,
          r.roundsPerStep,
          fixed(r.peakShardMB, 0),
          `${fixed(r.loadBefore, 2)}→${fixed(r.loadAfter, 2)}`,
        ];
      }),
      [
        "left",
        "right",
        "right",
        "right",
        "right",
        "right",
        "right",
        "right",
        "right",
        "right",
        "right",
        "right",
        "left",
      ],
    ),
    ...figures.map((f) => `![${f.title}](figures/${f.file})\n\n${f.caption}\n`),
    "## MODELLED: memory per shard and the largest K under the 4 GiB wasm32 heap\n",
    "Linear fits to the measured heaps. A SphereFace2 shard processes its block whole while the activations fit its " +
    "heap budget and in chunks past it, so a fit to unchunked blocks over-counts large blocks: its K max is a lower " +
    "bound.\n",
    data.memory.length
      ? markdownTable(
        ["loss", "bytes per class (fit)", "base MB", "K max, 1 shard", "2", "4", "8"],
        data.memory.map((r) => [
          r.loss,
          fixed(r.perClass, 0),
          fixed(r.base / 2 ** 20, 0),
          ...r.maxClasses.map((c) => c.classes.toLocaleString("en")),
        ]),
      )
      : "(needs measurements at two block sizes)\n",
    "## MODELLED: head step on 1–8 GPUs (cost model, assumptions in the device name)\n",
    markdownTable(
      ["device", "head", "K", "GPUs", "bytes/GPU", "collectives", "comm ms", "compute ms", "images/s"],
      data.extrapolation.filter((r) => r.classes === 1_000_000).map((r) => [
        r.device,
        r.family,
        kFmt(r.classes),
        r.shards,
        Math.round(r.bytesPerGpu),
        r.collectives,
        fixed(r.commMs, 3),
        fixed(r.computeMs, 2),
        fixed(r.imagesPerSecond, 0),
      ]),
    ),
    "## QUOTED anchor and MODELLED fit (8×V100, whole network)\n",
    `Fit 1/throughput = a + c·K to the quoted model-parallel rows at 125k and 1.4M: a = ${
      (data.anchor.a * 1e6).toFixed(1)
    } µs/sample, c = ${(data.anchor.c * 1e12).toFixed(1)} ps/sample/class; predicts ${
      fixed(data.anchor.predicted55M, 0)
    } samples/s at 5.5M (quoted: ${data.anchor.quoted55M}).\n`,
    markdownTable(
      ["K", "quoted model parallel", "modelled softmax", "modelled SphereFace2"],
      data.anchor.rows.map((r) => [kFmt(r.classes), r.quoted, fixed(r.softmax, 0), fixed(r.sphereface2, 0)]),
    ),
    "### QUOTED: insightface arcface_torch speed table (8×V100-32GB; samples/s, MB per GPU)\n",
    markdownTable(
      ["identities", "data parallel", "model parallel", "Partial FC 0.1"],
      PARTIAL_FC_TABLE.map((r) => [
        kFmt(r.identities),
        r.dataParallel ? `${r.dataParallel[0]}, ${r.dataParallel[1]} MB` : null,
        r.modelParallel ? `${r.modelParallel[0]}, ${r.modelParallel[1]} MB` : null,
        `${r.partialFc01[0]}, ${r.partialFc01[1]} MB`,
      ]),
    ),
  ];
  return parts.join("\n");
}

/** Writes `data.json`, `report.md` and `figures/*.svg` to `dir` atomically. */
export async function writeScalingReport(dir: string, data: ScalingData): Promise<void> {
  const figures = scalingFigures(data);
  await writeDirAtomic(dir, async (tmp) => {
    await writeFileIn(tmp, "data.json", formatJson(data));
    await writeFileIn(tmp, "report.md", scalingMarkdown(data, figures));
    for (const f of figures) await writeFileIn(tmp, `figures/${f.file}`, f.svg);
  });
}
