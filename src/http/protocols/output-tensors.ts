import type { ModelInfo, Prediction } from '../../detector/types.js';
import { OodError } from '../../errors.js';
import { clientName, clientNames } from '../client-names.js';

/** Open Inference Protocol v2 data types of the outputs (TensorFlow Serving's are derived). */
export type OutputDatatype = 'FP32' | 'FP64' | 'INT64' | 'BOOL' | 'BYTES';
type Value = number | boolean | string;

export interface OutputSpec {
  name: string;
  datatype: OutputDatatype;
  /** Per instance: [] for one value, [n] for a row of n. */
  shape: number[];
}

/** One output as a tensor: the batch's values, row-major. */
export interface OutputTensor extends OutputSpec {
  /** The whole tensor's shape, batch first. */
  shape: number[];
  data: Value[];
}

interface OutputDef extends OutputSpec {
  /** The instance's values, `prod(shape)` of them. */
  read(p: Prediction): Value[];
}

/**
 * The outputs every protocol answers with, each detector result as a tensor of its own (as
 * MLServer's alibi-detect runtime does): the class probabilities and prediction, then the
 * outlier decision, its p-values (one per signal, and the combined one that decides), and the
 * per-layer count of neighbours that share the predicted class. Named once here, so the v2 and
 * TF Serving answers and their metadata never disagree.
 */
function outputDefs(info: Pick<ModelInfo, 'labels' | 'layers' | 'signals'>): OutputDef[] {
  const classes = info.labels.length;
  return [
    { name: 'probabilities', datatype: 'FP32', shape: [classes], read: (p) => p.probabilities },
    { name: 'class_index', datatype: 'INT64', shape: [], read: (p) => [p.class_index] },
    { name: 'label', datatype: 'BYTES', shape: [], read: (p) => [p.label] },
    { name: 'outlier_score', datatype: 'FP64', shape: [], read: (p) => [p.outlier_score] },
    { name: 'is_outlier', datatype: 'BOOL', shape: [], read: (p) => [p.is_outlier] },
    { name: 'p_value', datatype: 'FP64', shape: [], read: (p) => [p.p_values.combined] },
    ...info.signals.map((signal): OutputDef => ({ name: `p_value_${signal}`, datatype: 'FP64', shape: [], read: (p) => [p.p_values[signal]] })),
    { name: 'credibility', datatype: 'FP64', shape: [], read: (p) => [p.credibility] },
    { name: 'confidence', datatype: 'FP64', shape: [], read: (p) => [p.confidence] },
    { name: 'knn_label', datatype: 'BYTES', shape: [], read: (p) => [p.knn_label] },
    { name: 'in_class_neighbors', datatype: 'INT64', shape: [info.layers.length], read: (p) => p.layers.map((l) => l.in_class_neighbors) },
  ];
}

/** What a model answers with, per instance: for the protocols' metadata. */
export function outputSpecs(info: Pick<ModelInfo, 'labels' | 'layers' | 'signals'>): OutputSpec[] {
  return outputDefs(info).map(({ name, datatype, shape }) => ({ name, datatype, shape }));
}

/** The batch's outputs as tensors, in the order of outputSpecs, limited to `names` when given. */
export function outputTensors(predictions: readonly Prediction[], info: ModelInfo, names?: readonly string[]): OutputTensor[] {
  const defs = outputDefs(info);
  const chosen = names ? names.map((name) => defs.find((d) => d.name === name) as OutputDef) : defs;
  return chosen.map((def) => ({
    name: def.name,
    datatype: def.datatype,
    shape: [predictions.length, ...def.shape],
    data: predictions.flatMap((p) => def.read(p)),
  }));
}

/** The names a request may select, for an error that lists them. */
export function unknownOutputs(info: ModelInfo, names: readonly string[]): string[] {
  const known = new Set(outputDefs(info).map((d) => d.name));
  return names.filter((name) => !known.has(name));
}

/** The outputs a request selected, checked against the model's: each known, none twice. */
export function checkSelectedOutputs(info: ModelInfo, names: readonly string[] | undefined): void {
  if (!names) return;
  const repeated = names.find((name, i) => names.indexOf(name) !== i);
  if (repeated) throw new OodError('BAD_REQUEST', `outputs names ${clientName(repeated)} twice`);
  const unknown = unknownOutputs(info, names);
  if (unknown.length > 0) {
    throw new OodError('BAD_REQUEST', `outputs names ${clientNames(unknown)}; model ${info.name} has ${outputSpecs(info).map((o) => o.name).join(', ')}`);
  }
}

/** One instance's value of a tensor: a scalar for per-instance shape [], else a (nested) array. */
export function instanceValue(tensor: OutputTensor, row: number): unknown {
  const perRow = tensor.shape.slice(1);
  const size = perRow.reduce((a, b) => a * b, 1);
  const flat = tensor.data.slice(row * size, (row + 1) * size);
  return perRow.length === 0 ? flat[0] : nest(flat, perRow);
}

/** Row-major values as nested arrays of `shape`. */
export function nest(flat: readonly Value[], shape: readonly number[]): unknown[] {
  if (shape.length <= 1) return [...flat];
  const step = flat.length / shape[0];
  return Array.from({ length: shape[0] }, (_, i) => nest(flat.slice(i * step, (i + 1) * step), shape.slice(1)));
}
