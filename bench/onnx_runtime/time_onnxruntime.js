// Times an ONNX file in ONNX Runtime (npm onnxruntime-node, installed by
// deploy/install-deps.sh into tests/testdata/onnx) on one thread, as
// bench/onnx_runtime_bench.cc times Cohort's own kernels, and scores it.
//
//   node time_onnxruntime.js MODEL IMAGES LABELS COUNT RUNS_B1 RUNS_B32
//
// IMAGES: COUNT 28x28 images, one byte per pixel; LABELS: COUNT bytes.
// Prints one JSON line: median and p95 milliseconds per call at batch 1 and
// 32 (after warm-up, walking through the images), and the accuracy.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, '../../tests/testdata/onnx/node_modules/onnxruntime-node'));

function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function timeBatches(session, input, count, batch, runs) {
  const times = [];
  const warmup = 20;
  for (let i = 0; i < warmup + runs; ++i) {
    const start = ((i * batch) % (count - batch + 1));
    const x = new ort.Tensor('float32', input.subarray(start * 784, (start + batch) * 784),
                             [batch, 1, 28, 28]);
    const t0 = process.hrtime.bigint();
    await session.run({ image: x });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (i >= warmup) times.push(ms);
  }
  return { p50: quantile(times, 0.5), p95: quantile(times, 0.95) };
}

async function main([modelPath, imagesPath, labelsPath, countText, runsB1, runsB32]) {
  const count = Number(countText);
  const pixels = fs.readFileSync(imagesPath);
  const labels = fs.readFileSync(labelsPath);
  const input = Float32Array.from(pixels, (p) => p / 255);
  const session = await ort.InferenceSession.create(modelPath, {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
  const all = await session.run({ image: new ort.Tensor('float32', input, [count, 1, 28, 28]) });
  let right = 0;
  for (let i = 0; i < count; ++i) {
    const row = all.logits.data.subarray(i * 10, i * 10 + 10);
    let best = 0;
    for (let c = 1; c < 10; ++c) if (row[c] > row[best]) best = c;
    right += best === labels[i] ? 1 : 0;
  }
  const b1 = await timeBatches(session, input, count, 1, Number(runsB1));
  const b32 = await timeBatches(session, input, count, 32, Number(runsB32));
  console.log(JSON.stringify({
    onnxruntime: ort.env.versions.common,
    bytes: fs.statSync(modelPath).size,
    accuracy: right / count,
    p50_b1_ms: b1.p50, p95_b1_ms: b1.p95, p50_b32_ms: b32.p50, p95_b32_ms: b32.p95,
  }));
}

main(process.argv.slice(2)).catch((e) => {
  console.error(`time_onnxruntime: ${e.message}`);
  process.exit(1);
});
