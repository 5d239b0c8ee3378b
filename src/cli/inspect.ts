import { parseArgs } from 'node:util';
import type { ModelDescription } from '../model/model-description.js';
import { RUNTIMES, runtimeForFile } from '../model/runtimes.js';
import { describeModelFile } from '../onboarding/describe-file.js';
import { parseInputShape } from '../onboarding/input-shape-arg.js';

const USAGE = `usage: npm run ood -- inspect FILE [--input-shape 1,28,28 | NAME=DIMS,...] [--json]
  Shows an ONNX file's or a tfjs model.json's input, outputs and the layers that could be
  indexed with their shapes, and which layers add-model would index by default, and why.
  --input-shape  the per-instance shape, when the file leaves dimensions free; for several
                 inputs NAME=DIMS each, e.g. input_ids=128,attention_mask=128`;

export async function inspectCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { 'input-shape': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help || positionals.length !== 1) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const [file] = positionals;
  const runtime = RUNTIMES[runtimeForFile(file)];
  await runtime.prepare({});
  const described = await describeModelFile(file, runtime, values['input-shape'] ? parseInputShape(values['input-shape'], '--input-shape') : undefined);
  described.dispose();
  const { description } = described;
  process.stdout.write(values.json ? `${JSON.stringify(description, null, 2)}\n` : formatDescription(description));
  return 0;
}

export function formatDescription(d: ModelDescription): string {
  const chosen = new Set(d.defaults.layers);
  const lines = [
    `${d.file} (${d.runtime})`,
    ...d.inputs.map((i) => `input    ${i.name} ${i.dtype} [${i.shape.join(', ')}]`),
    ...(d.inputs.length > 1 ? [`         (${d.input.width} values per instance, the inputs in turn)`] : [`         (${d.input.width} values per instance)`]),
    ...d.outputs.map((o) => `output   ${o.name} [${o.shape.join(', ')}]`),
    `classes  ${d.classOutput.classes} from "${d.classOutput.name}": ${d.classOutput.why}`,
    '',
    'candidate layers (* = indexed by default):',
    `  ${'name'.padEnd(36)} ${'op'.padEnd(18)} ${'shape'.padEnd(16)} values`,
    ...d.candidates.map(
      (c) => `${chosen.has(c.name) ? '*' : ' '} ${c.name.padEnd(36)} ${c.op.padEnd(18)} ${`[${c.shape.join(', ')}]`.padEnd(16)} ${c.width}`,
    ),
    '',
    `default layers: ${d.defaults.layers.join(',')}`,
    ...d.defaults.reasons.map((r) => `  ${r}`),
    '',
  ];
  return lines.join('\n');
}
