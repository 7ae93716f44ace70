/**
 * Broken model folders made on the fly from the shared models (nothing large is committed):
 * each is a copy of a good model with one thing wrong.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MODELS } from './paths';

function copyModel(from: string, to: string): void {
  fs.cpSync(path.join(MODELS, from), to, {
    recursive: true,
    filter: (src) => !src.includes(`${path.sep}reference`),
  });
  // The shared folder is read-only; the copies must be writable to be broken and removed.
  fs.chmodSync(to, 0o755);
  for (const f of fs.readdirSync(to, { recursive: true }) as string[]) fs.chmodSync(path.join(to, f), 0o755);
}

/**
 * A folder of model folders: good (tiny), no-tokenizer, corrupt-vision, corrupt-text, mismatched-towers,
 * bad-json.
 */
export function makeBrokenModels(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'zsw-models-'));
  copyModel('tiny-random-clip', path.join(root, 'tiny-random-clip'));

  copyModel('tiny-random-clip', path.join(root, 'no-tokenizer'));
  fs.rmSync(path.join(root, 'no-tokenizer/tokenizer.json'));

  copyModel('tiny-random-clip', path.join(root, 'corrupt-vision'));
  fs.writeFileSync(path.join(root, 'corrupt-vision/onnx/vision_model.onnx'), Buffer.from('this is not an onnx file'));

  copyModel('tiny-random-clip', path.join(root, 'corrupt-text'));
  fs.writeFileSync(path.join(root, 'corrupt-text/onnx/text_model.onnx'), Buffer.from('this is not an onnx file'));

  // Text tower of the tiny model (16-d) with the vision tower of the toy model (64-d).
  copyModel('tiny-random-clip', path.join(root, 'mismatched-towers'));
  fs.copyFileSync(
    path.join(MODELS, 'toy-clip-cifar10/onnx/vision_model.onnx'),
    path.join(root, 'mismatched-towers/onnx/vision_model.onnx'),
  );
  fs.writeFileSync(path.join(root, 'mismatched-towers/config.json'), '{"model_type":"clip"}');

  copyModel('tiny-random-clip', path.join(root, 'bad-json'));
  fs.writeFileSync(path.join(root, 'bad-json/preprocessor_config.json'), '{ "size": ');
  return root;
}
