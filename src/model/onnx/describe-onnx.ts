import { chooseLayers, onnxRole, pooledCandidates, type LayerCandidate } from '../layer-choice.js';
import { INPUT_LAYER } from '../manifest.js';
import type { ModelDescription } from '../model-description.js';
import { decodeModel, graphInfo, OnnxFormatError, type OnnxGraphInfo } from './onnx-graph.js';
import { inputLayout, isIntegerDtype, packedShape } from '../model-inputs.js';
import { onnxInputs, type GivenShapes } from './onnx-inputs.js';
import { probeValues } from './onnx-probe.js';

/**
 * The graph's layers with their real shapes: the model is opened with every candidate value
 * exposed and run once on a zero instance, since files often carry no shapes for hidden values.
 * Throws OnnxFormatError for a file that is not a usable ONNX model.
 */
export async function describeOnnx(bytes: Uint8Array, file: string, inputShape?: GivenShapes): Promise<ModelDescription> {
  const model = decodeModel(bytes);
  const info = graphInfo(model);
  const { inputs } = onnxInputs(info, inputShape);
  const layout = inputLayout(inputs);
  const outputNames = new Set(info.outputs.map((o) => o.name));
  const probed = info.values.filter((v) => onnxRole(v.op, []) !== 'other' || v.op === 'Reshape' || v.op === 'Softmax');
  // Only tensors are fetched: onnxruntime-node cannot return the sequence of maps that
  // scikit-learn's default export (ZipMap) gives.
  const tensorOutputs = info.outputs.filter((o) => o.elemType !== 0);
  const names = [...new Set([...tensorOutputs.map((o) => o.name), ...probed.map((v) => v.name)])];
  const shapes = await probeValues(model, names, inputs);
  const classOutput = pickClassOutput(info, shapes);
  const plain: LayerCandidate[] = [];
  for (const v of probed) {
    const found = shapes.get(v.name);
    if (!found?.float || outputNames.has(v.name) || v.op === 'Softmax') continue;
    const width = found.shape.reduce((a, b) => a * b, 1);
    plain.push({ name: v.name, op: v.op, shape: found.shape, width, role: onnxRole(v.op, found.shape) });
  }
  const residual = (name: string) => {
    const uses = info.consumers.get(name) ?? [];
    return uses.includes('Add') && uses.length >= 2;
  };
  const candidates = pooledCandidates(plain, residual);
  const { width } = layout;
  // Token ids and masks are codes, not measurements: distances between them mean nothing.
  const indexableInput = inputs.every((i) => !isIntegerDtype(i.dtype));
  return {
    runtime: 'onnx',
    file,
    inputs,
    input: { name: inputs[0].name, shape: packedShape(inputs), width },
    outputs: info.outputs.map((o) => ({ name: o.name, shape: shapes.get(o.name)?.shape ?? [] })),
    classOutput,
    candidates,
    values: [...new Set([...info.values.map((v) => v.name), ...info.outputs.map((o) => o.name)])],
    defaults: chooseLayers(candidates, indexableInput ? width : Number.POSITIVE_INFINITY, INPUT_LAYER),
  };
}

/**
 * The class scores: a float output with one dimension per instance and at least two values,
 * preferring one whose name says probabilities (as scikit-learn exports name theirs). A Softmax
 * at the end means probabilities; anything else is taken as logits.
 */
function pickClassOutput(info: OnnxGraphInfo, shapes: Map<string, { shape: number[]; float: boolean }>): ModelDescription['classOutput'] {
  const usable = info.outputs.filter((o) => {
    const s = shapes.get(o.name);
    return s?.float && s.shape.length === 1 && s.shape[0] >= 2;
  });
  if (usable.length === 0) {
    const described = info.outputs.map((o) => `${o.name} [${shapes.get(o.name)?.shape.join(', ') ?? 'not a tensor'}]`).join(', ');
    const zipmap = info.outputs.some((o) => o.elemType === 0) ? '; a scikit-learn model needs exporting with zipmap=False (options={id(model): {"zipmap": False}})' : '';
    throw new OnnxFormatError(`has no float output of class scores (one vector per instance); its outputs: ${described}${zipmap}`);
  }
  const chosen = usable.find((o) => /prob/i.test(o.name)) ?? usable[0];
  const producer = info.values.find((v) => v.name === chosen.name);
  const classes = (shapes.get(chosen.name) as { shape: number[] }).shape[0];
  const softmaxed = producer?.op === 'Softmax';
  return {
    name: chosen.name,
    classes,
    activation: softmaxed ? 'none' : 'softmax',
    why: softmaxed ? 'it ends in a Softmax: probabilities' : `it ends in ${producer?.op ?? 'an input'}: taken as logits, softmax applied`,
  };
}
