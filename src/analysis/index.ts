export { parseCsvEmbeddings, parseEmbeddings, parseJsonEmbeddings, parseLabels } from './embeddings-file.js';
export {
  entanglementByLayer,
  measureEntanglement,
  type Entanglement,
  type EntanglementOptions,
  type LayerEntanglement,
  type TemperatureChoice,
} from './entanglement.js';
export { layerActivations, modelLayerEntanglement } from './layer-entanglement.js';
export { seededSample } from './sample.js';
