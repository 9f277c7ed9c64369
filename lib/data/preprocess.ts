/**
 * How a model expects its input pixels: channel order and the affine map x = (v − mean) / std per channel. Kit
 * models and every PyTorch source the kit imports use RGB with mean = std = 127.5 (OpenSphere `(v − 127.5) /
 * 127.5`, insightface `((v / 255) − 0.5) / 0.5`, the same map up to float32 rounding); a run folder records it so
 * that evaluation feeds an imported model what its source trained it on.
 *
 * @example
 * ```ts
 * import { KIT_PREPROCESS, preprocessPixels } from "./preprocess.ts";
 * const x = preprocessPixels(Uint8Array.of(0, 127, 255), KIT_PREPROCESS); // Float32Array [-1, -0.0039…, 1]
 * ```
 * @module
 */
import { z } from "zod";

const perChannel = z.union([z.number(), z.tuple([z.number(), z.number(), z.number()])]);

export const PreprocessSchema = z.strictObject({
  /** Order of the three channels the network sees (images are decoded as RGB). */
  channelOrder: z.enum(["RGB", "BGR"]),
  /** Subtracted from each 0–255 value (one number, or one per network channel). */
  mean: perChannel,
  /** Divides after the subtraction (one number, or one per network channel); must not be 0. */
  std: perChannel.refine((s) => (Array.isArray(s) ? s : [s]).every((v) => v !== 0), "std must not be 0"),
  /** Where the convention comes from (free text, for the record). */
  source: z.string().optional(),
});
export type Preprocess = z.output<typeof PreprocessSchema>;

/** The kit's own convention (and OpenSphere's and insightface's): RGB, (v − 127.5) / 127.5. */
export const KIT_PREPROCESS: Preprocess = { channelOrder: "RGB", mean: 127.5, std: 127.5 };

/** Maps interleaved RGB bytes (HWC) to the network's float32 input (HWC, channels reordered if BGR). */
export function preprocessPixels(rgb: Uint8Array, p: Preprocess): Float32Array {
  const mean = Array.isArray(p.mean) ? p.mean : [p.mean, p.mean, p.mean];
  const std = Array.isArray(p.std) ? p.std : [p.std, p.std, p.std];
  const bgr = p.channelOrder === "BGR";
  const out = new Float32Array(rgb.length);
  for (let i = 0; i < rgb.length; i += 3) {
    for (let c = 0; c < 3; c++) {
      const v = rgb[i + (bgr ? 2 - c : c)];
      out[i + c] = (v - mean[c]) / std[c];
    }
  }
  return out;
}
