export { mspOutlierScores } from './msp.js';
export { energyOutlierScores, type EnergyOptions } from './energy.js';
export {
  fitMahalanobis,
  mahalanobisOutlierScores,
  type MahalanobisModel,
  type MahalanobisOptions,
} from './mahalanobis.js';
export {
  fitKnnDistance,
  knnDistanceOutlierScores,
  type IndexFactory,
  type KnnDistanceModel,
  type KnnDistanceOptions,
} from './knn-distance.js';
