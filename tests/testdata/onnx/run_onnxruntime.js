// Runs an ONNX file written by Cohort (Model::ExportOnnx,
// Int8Model::ExportOnnx, `cohortctl model export --format=onnx`) in ONNX
// Runtime, as an application would, and writes the logits it computes.
//
//   node run_onnxruntime.js MODEL IMAGES COUNT OUT
//
// IMAGES holds COUNT 28x28 images, one byte per pixel; the model gets
// pixel / 255 as float [COUNT, 1, 28, 28]. OUT receives the COUNT x 10
// float32 logits (little-endian). The caller compares them with Cohort's.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main([modelPath, imagesPath, countText, outPath]) {
  const count = Number(countText);
  const pixels = fs.readFileSync(imagesPath);
  if (pixels.length !== count * 784) {
    throw new Error(`${imagesPath}: ${pixels.length} bytes, expected ${count * 784}`);
  }
  const input = Float32Array.from(pixels, (p) => p / 255);
  const session = await ort.InferenceSession.create(modelPath, {
    graphOptimizationLevel: 'all',
  });
  const result = await session.run({
    image: new ort.Tensor('float32', input, [count, 1, 28, 28]),
  });
  const logits = result.logits;
  if (logits.dims.length !== 2 || logits.dims[0] !== count || logits.dims[1] !== 10) {
    throw new Error(`logits have shape [${logits.dims}], expected [${count}, 10]`);
  }
  fs.writeFileSync(outPath, Buffer.from(logits.data.buffer, logits.data.byteOffset,
                                        logits.data.byteLength));
  console.log(`onnxruntime ${ort.env.versions.common}: ${count} images`);
}

main(process.argv.slice(2)).catch((e) => {
  console.error(`run_onnxruntime: ${e.message}`);
  process.exit(1);
});
