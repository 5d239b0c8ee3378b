import { OodError } from '../errors.js';

/**
 * tfjs rebuilds a functional model by calling each layer on its inbound nodes, re-queueing a call
 * whose inputs do not exist yet and looping until the queue is empty. A model.json whose graph
 * can never be completed (an inbound reference to a missing layer or node, a cycle, a node
 * entry of the wrong form) makes that loop spin forever, synchronously: start-up hangs and the
 * health checks stop answering. This replays the same queue on the JSON alone and refuses such
 * a graph by name. It is stricter than tfjs about the form of a reference, never looser.
 */

interface LayerConfig {
  name: string;
  isInput: boolean;
  inboundNodes: unknown[];
}

/** tfjs camel-cases every key of model.json before reading it (when two keys meet, the last wins). */
const tfjsKey = (key: string) => (key.length <= 1 || !key.includes('_') ? key : key.replace(/[_]+(\w|$)/g, (_m, c: string) => c.toUpperCase()));

function asTfjsReads(value: unknown): Record<string, unknown> | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  return Object.fromEntries(Object.entries(value).map(([key, v]) => [tfjsKey(key), v]));
}

/**
 * The layers of a functional model as tfjs will queue them, or undefined when modelTopology has
 * no layer list tfjs could iterate (it then fails on its own, without looping).
 */
function functionalLayers(modelTopology: Record<string, unknown>, invalid: (why: string) => OodError): LayerConfig[] | undefined {
  const top = asTfjsReads(modelTopology);
  if (top?.className === 'Sequential') return undefined;
  const layers = asTfjsReads(top?.config)?.layers;
  if (!Array.isArray(layers)) return undefined;
  return layers.map((entry: unknown, i) => {
    const layer = asTfjsReads(entry);
    const name = layer?.name;
    if (typeof name !== 'string') throw invalid(`layer ${i} has no name`);
    // tfjs files layers by name in plain objects, where these names are already taken.
    if (name in Object.prototype) throw invalid(`layer ${i} is named "${name}"`);
    if (!Array.isArray(layer?.inboundNodes)) throw invalid(`layer "${name}" has no inbound_nodes list`);
    // tfjs queues a layer's calls under the name in its config: a layer whose config names it
    // differently would take another layer's calls, or never be called.
    const configName = asTfjsReads(layer.config)?.name;
    if (configName !== undefined && configName !== name) {
      throw invalid(`layer "${name}" is named ${JSON.stringify(configName)} in its config`);
    }
    return { name, isInput: layer.className === 'InputLayer', inboundNodes: layer.inboundNodes };
  });
}

export function assertLayerGraphCompletes(modelTopology: Record<string, unknown>, file: string): void {
  const invalid = (why: string) => new OodError('MODEL_INVALID', `${file}: ${why}`);
  const layers = functionalLayers(modelTopology, invalid);
  if (!layers) return;
  // How many times each layer has been called so far; an input layer is born called once.
  const calls = new Map<string, number>();
  for (const layer of layers) {
    if (calls.has(layer.name)) throw invalid(`two layers are named "${layer.name}"`);
    calls.set(layer.name, layer.isInput ? 1 : 0);
  }
  const ready = (node: unknown): boolean =>
    Array.isArray(node) &&
    node.every((input: unknown) => {
      if (!Array.isArray(input)) return false;
      const [layer, nodeIndex] = input as unknown[];
      return typeof layer === 'string' && Number.isInteger(nodeIndex) && (calls.get(layer) ?? 0) > (nodeIndex as number);
    });

  let pending = layers.map((layer) => ({ layer: layer.name, nodes: layer.inboundNodes }));
  while (pending.some((p) => p.nodes.length > 0)) {
    let progress = false;
    pending = pending.map(({ layer, nodes }) => {
      const waiting: unknown[] = [];
      for (const node of nodes) {
        if (!ready(node)) {
          waiting.push(node);
          continue;
        }
        progress = true;
        // An empty node calls nothing, as in tfjs.
        if ((node as unknown[]).length > 0) calls.set(layer, (calls.get(layer) ?? 0) + 1);
      }
      return { layer, nodes: waiting };
    });
    if (!progress) {
      const stuck = pending.find((p) => p.nodes.length > 0);
      throw invalid(
        `layer "${stuck?.layer}" has inbound_nodes ${JSON.stringify(stuck?.nodes[0])} that never exist ` +
          '(a missing or circular reference): tfjs would loop forever building it',
      );
    }
  }
}
