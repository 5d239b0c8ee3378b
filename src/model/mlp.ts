import * as tf from '@tensorflow/tfjs';

/**
 * The classifier architecture the training command builds: a plain ReLU MLP. Logits get a layer
 * of their own before the softmax so that energy-style scores can read them.
 */
export const LOGITS_LAYER = 'logits';
export const PROBS_LAYER = 'probs';

export function hiddenLayerName(i: number): string {
  return `hidden${i + 1}`;
}

export function buildMlp(inputSize: number, hidden: number[], classes: number, seed: number): tf.LayersModel {
  const input = tf.input({ shape: [inputSize], name: 'pixels' });
  let h: tf.SymbolicTensor = input;
  hidden.forEach((units, i) => {
    h = tf.layers
      .dense({
        units,
        activation: 'relu',
        name: hiddenLayerName(i),
        kernelInitializer: tf.initializers.heNormal({ seed: seed + i }),
      })
      .apply(h) as tf.SymbolicTensor;
  });
  const logits = tf.layers
    .dense({ units: classes, name: LOGITS_LAYER, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 99 }) })
    .apply(h) as tf.SymbolicTensor;
  const probs = tf.layers.activation({ activation: 'softmax', name: PROBS_LAYER }).apply(logits) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: probs });
}
