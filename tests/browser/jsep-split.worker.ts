/**
 * Test-only worker: onnxruntime-web's default bundle (WebGPU through JSEP, what browsers without JSPI run)
 * makes one WebGPU session from a model file whole and one from the same file split as it is read
 * (core/onnx-split.ts, as engine/tower-files.ts hands it over), and runs both on the same input. The app's
 * own sessions take the JSPI build wherever the browser has it, Chromium here included, so this is the one
 * place the default bundle's upload of split weights is checked.
 */
import { splitWeights } from '../../src/core/onnx-split';

interface Request {
  url: string;
  /** The external-data name the split graph refers to its weights by (ort-engine.ts `weightsLocation`). */
  location: string;
  dims: number[];
}

self.onmessage = async (e: MessageEvent<Request>) => {
  const { url, location, dims } = e.data;
  try {
    const ort = await import('onnxruntime-web');
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
    const options = { executionProviders: ['webgpu'], graphOptimizationLevel: 'all', logSeverityLevel: 3 } as const;
    const whole = await ort.InferenceSession.create(bytes.slice(), options);
    // Read in 64 KB chunks, as a stream would give them.
    let at = 0;
    const next = async () => (at < bytes.length ? bytes.slice(at, (at += 65536)) : null);
    const split = await splitWeights(next, bytes.length, location);
    const pieces = await ort.InferenceSession.create(split.graph, {
      ...options,
      externalData: [{ path: location, data: split.weights }],
    });
    const served = split.weights.served;
    const refused = split.weights.refused;
    split.weights.release();
    const n = dims.reduce((a, b) => a * b, 1);
    const input = new Float32Array(n);
    for (let i = 0; i < n; i++) input[i] = Math.sin(i * 0.37) * 1.5;
    const feed = { [whole.inputNames[0]!]: new ort.Tensor('float32', input, dims) };
    const name = whole.outputNames[0]!;
    const a = (await whole.run(feed))[name]!.data as Float32Array;
    const b = (await pieces.run(feed))[name]!.data as Float32Array;
    await whole.release();
    await pieces.release();
    self.postMessage({
      moved: split.moved,
      served,
      refused,
      fileBytes: bytes.length,
      graphBytes: split.graph.byteLength,
      whole: Array.from(a),
      pieces: Array.from(b),
    });
  } catch (err) {
    self.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
};
