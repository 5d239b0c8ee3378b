import { mkdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../atomic-write.js';
import { OodError } from '../errors.js';
import { exportFeatures, type ExportedFeatures } from '../model/onnx/export-features.js';
import { parseInputShape } from '../onboarding/input-shape-arg.js';
import { NAME_PATTERN } from '../model/manifest.js';
import { tritonConfig } from '../model/onnx/triton-config.js';

const USAGE = `usage: npm run ood -- export-features --onnx model.onnx [--layers a,b:mean,...] --out model-with-features.onnx
                                     [--triton-repository DIR [--triton-name NAME]] [--input-shape 1,28,28 | NAME=DIMS,...]
  Writes the model with the layers a features model indexes added as graph outputs (pooled
  layers computed in the graph), for the model server that already runs it to return beside
  its own outputs. Prints what to deploy and the output names the server will then return.
  --layers             the layers, as add-model names them (default: the layers add-model would index)
  --triton-repository  also write a Triton model repository entry: DIR/NAME/config.pbtxt listing
                       every output, and DIR/NAME/1/model.onnx (NAME: --triton-name, else the file's name)
  --input-shape        the per-instance shape, when the file leaves dimensions free`;

export async function exportFeaturesCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      onnx: { type: 'string' }, layers: { type: 'string' }, out: { type: 'string' }, 'input-shape': { type: 'string' },
      'triton-repository': { type: 'string' }, 'triton-name': { type: 'string' }, help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    process.stderr.write(`${USAGE}\n`);
    return 0;
  }
  if (!values.onnx || !values.out) {
    process.stderr.write(`export-features: ${values.onnx ? '--out' : '--onnx'} is required\n\n${USAGE}\n`);
    return 2;
  }
  if (!/\.onnx$/i.test(values.onnx)) throw new OodError('CONFIG_INVALID', `${values.onnx}: --onnx takes an ONNX file (.onnx)`);
  const inputShape = values['input-shape'] ? parseInputShape(values['input-shape'], '--input-shape') : undefined;
  let bytes: Buffer;
  try {
    bytes = await readFile(values.onnx);
  } catch (err) {
    throw new OodError('DATA_SOURCE_MISSING', `cannot read model file ${values.onnx}: ${(err as Error).message}`, { cause: err });
  }
  const exported = await exportFeatures(bytes, values.onnx, values.layers?.split(','), { inputShape });
  await writeFileAtomic(values.out, exported.bytes);
  process.stdout.write(exportSummary(exported, values.onnx, values.out));
  const repository = values['triton-repository'];
  if (repository) {
    const name = values['triton-name'] ?? basename(values.onnx).replace(/\.onnx$/i, '');
    if (!NAME_PATTERN.test(name)) throw new OodError('CONFIG_INVALID', `--triton-name "${name}" must match ${NAME_PATTERN}`);
    await mkdir(join(repository, name, '1'), { recursive: true });
    await writeFileAtomic(join(repository, name, '1', 'model.onnx'), exported.bytes);
    await writeFileAtomic(join(repository, name, 'config.pbtxt'), tritonConfig(exported, name));
    process.stdout.write(`wrote the Triton model repository entry ${join(repository, name)}: config.pbtxt and 1/model.onnx\n`);
  }
  return 0;
}

/** What was written, what to deploy, and how the features model is onboarded from it. */
export function exportSummary(exported: ExportedFeatures, from: string, out: string): string {
  const rows = [
    ...exported.layers.map((l) => ({ output: l.output, shape: l.shape, what: l.layer === l.output ? 'layer' : `layer ${l.layer}` })),
    { output: exported.scores.output, shape: [exported.scores.classes], what: `class scores (${exported.scores.why}; add-model decides on the data)` },
  ];
  const width = Math.max(...rows.map((r) => r.output.length));
  const shapes = rows.map((r) => `[${r.shape.join(', ')}]`);
  const shapeWidth = Math.max(...shapes.map((s) => s.length));
  const features = exported.layers.map((l) => `${l.output}=${safeFile(l.output)}.npy`).join(',');
  const scoresFlag = `--${exported.scores.kind} ${exported.scores.output}=${safeFile(exported.scores.output)}.npy`;
  return [
    `wrote ${out}: ${from} with ${exported.layers.length} feature output${exported.layers.length === 1 ? '' : 's'} added`,
    '',
    `deploy ${out} where ${from} runs now (Triton, KServe, Seldon, ...). Besides its own outputs it returns:`,
    ...rows.map((r, i) => `  ${r.output.padEnd(width)}  ${shapes[i].padEnd(shapeWidth)}  ${r.what}`),
    '',
    'forward those outputs, named as they are, to the features model (POST /predict, v2 or TF Serving).',
    `onboard it from the same outputs computed over your training data, one .npy file each (--logits, or --probabilities if "${exported.scores.output}" gives probabilities):`,
    `  npm run ood -- add-model --name NAME --features ${features} ${scoresFlag} --labels y.npy`,
    `or in one step, computing them here with onnxruntime: npm run ood -- add-model --name NAME --onnx ${from} --as-features --layers ${exported.layers.map((l) => l.layer).join(',')} --data ...`,
    '',
  ].join('\n');
}

/** A file name for an output name ("/fc1/Relu_output_0" -> "fc1_Relu_output_0"). */
const safeFile = (name: string) => name.replace(/^[/:]+/, '').replace(/[^\w.-]+/g, '_');
