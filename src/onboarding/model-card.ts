import type { ModelManifest } from '../model/manifest.js';
import type { ModelDescription } from '../model/model-description.js';
import { RUNTIMES } from '../model/runtimes.js';
import type { ReferenceSetManifest } from '../reference/manifest.js';
import type { AddModelOptions } from './add-model-options.js';
import type { DataPlan } from './data-plan.js';
import type { HeldOutCheck } from './held-out.js';
import { reorderNote, type LabelCheck } from './label-check.js';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export function modelCard(p: {
  manifest: ModelManifest;
  options: AddModelOptions;
  plan: DataPlan;
  description: ModelDescription;
  layerReasons: string[];
  referenceSet: ReferenceSetManifest;
  counts: { train: number; calibration: number; test: number };
  labelCheck: LabelCheck;
  heldOut?: HeldOutCheck;
  significance: number;
  k: number;
}): string {
  const { manifest, options, description, referenceSet, counts, labelCheck, heldOut } = p;
  const runtime = RUNTIMES[description.runtime];
  const note = reorderNote(labelCheck);
  const accuracyLine =
    `${labelCheck.accuracy.toFixed(4)} on ${labelCheck.rows} of the indexed rows, against their labels (chance level ${labelCheck.chance.toFixed(4)}, the largest class's share)` +
    (note ? `; ${note}` : '');
  const heldOutLine = heldOut
    ? `${pct(heldOut.flagRate)} of ${heldOut.rows} held-out rows flagged at significance ${p.significance} (conformal calibration aims at ${pct(p.significance)}); accuracy ${heldOut.accuracy.toFixed(4)}`
    : 'no held-out data given (add --test-data to measure it)';
  return `# Model card: ${manifest.name} (version ${manifest.version})

A ${runtime.title} model brought by its owners and onboarded with \`add-model\`.
${runtime.keptAs}; checksums are in manifest.json.

| field | value |
| --- | --- |
| model file | ${options.cardModelFile ?? `\`${options.modelFile}\``} (${description.runtime}) |
| input | ${inputsCell(description)}${manifest.text ? `; text through \`tokenizer.json\` (${options.tokenizer ?? 'given'}), ${manifest.text.max_length} tokens per text, at most ${manifest.text.max_chars} characters` : ''}${manifest.preprocessing ? `, images as ${manifest.preprocessing.layout} ${manifest.preprocessing.channels}-channel ${manifest.preprocessing.width}x${manifest.preprocessing.height}, scale ${manifest.preprocessing.scale}` : ''} |
| classes | ${manifest.labels.length} from \`${manifest.output_layer}\` (${manifest.output_activation === 'softmax' ? 'logits: softmax applied by the service' : 'probabilities'}); names from ${p.plan.labelsFrom} |
| data | ${referenceSet.source.kind}, ${referenceSet.data === 'copied' ? 'copied into' : 'referenced from'} reference-sets/${manifest.reference_set} |
| split | index ${counts.train}, calibration ${counts.calibration} (seeded, seed ${options.seed}), held-out test ${counts.test} |
| k | ${p.k} neighbours per layer |
| model accuracy on the reference rows | ${accuracyLine} |
| held-out flag rate | ${heldOutLine} |

## Indexed layers

${p.layerReasons.map((r) => `- ${r}`).join('\n')}

## Caveat on calibration

The calibration rows are a share of the data given, held out from the index but not, as a rule,
from the model's own training. When the model fits its training data much more tightly than new
data, in-distribution inputs look slightly stranger than the calibration rows did, and the flag
rate on new data rises above the significance. The held-out flag rate above measures it.

## Regenerate

\`\`\`
${options.command}
\`\`\`
`;
}

export function referenceSetReadme(manifest: ReferenceSetManifest, options: AddModelOptions, plan: DataPlan): string {
  return `# Reference set: ${manifest.name}

The data of model \`${manifest.name}\`, added by \`add-model\` from:

${plan.copies.map((c) => `- \`${c.from}\`${manifest.data === 'copied' ? ` (copied here as \`${c.to}\`)` : ''}`).join('\n')}

${manifest.data === 'copied' ? 'The files beside this README are copies; the folder stands alone (mount it as it is).' : 'The files are referenced where they were (absolute paths in manifest.json): keep them there.'}

Regenerate with:

\`\`\`
${options.command}
\`\`\`
`;
}

/** One input by name and shape, or each of several with its element type. */
function inputsCell(description: ModelDescription): string {
  const { inputs } = description;
  if (inputs.length === 1 && inputs[0].dtype === 'float32') return `\`${description.input.name}\` [${description.input.shape.join(', ')}]`;
  return inputs.map((i) => `\`${i.name}\` ${i.dtype} [${i.shape.join(', ')}]`).join(', ');
}
