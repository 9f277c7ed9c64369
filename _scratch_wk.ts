import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
await tf.setBackend("wasm"); await tf.ready();
function time(label: string, f: () => tf.Tensor, reps: number) {
  const ts: number[] = [];
  for (let i = 0; i < reps + 1; i++) { const t0 = performance.now(); const y = f(); y.dataSync(); y.dispose(); const dt = performance.now() - t0; if (i > 0) ts.push(dt); }
  ts.sort((x, y) => x - y);
  console.log(`${label}: median ${ts[Math.floor(ts.length / 2)].toFixed(1)} ms (min ${ts[0].toFixed(1)})`);
}
const G = tf.randomNormal([256, 10000]); const Wt = tf.randomNormal([10000, 512]); const W = tf.randomNormal([512, 10000]); const Gt = tf.randomNormal([10000, 256]);
time("G[256,10000] x Wt[10000,512]", () => tf.matMul(G as tf.Tensor2D, Wt as tf.Tensor2D), 5);
time("W[512,10000] x Gt[10000,256]", () => tf.matMul(W as tf.Tensor2D, Gt as tf.Tensor2D), 5);
