import { z } from 'zod';
import { OodError } from '../errors.js';
import type { HnswParams } from './hnsw-params.js';
import type { NeighborIndex } from './neighbor-index.js';
import type { Storage, StorageChoice } from './storage.js';
import { UsearchIndex } from './usearch-index.js';

/**
 * The libraries that can hold a layer's HNSW graph. usearch is the default: it searches a batch
 * in one native call, inserts on every core, stores f16, and memory-maps a saved graph so that
 * every scoring thread shares one copy. hnswlib-node is kept as a selectable engine (an optional
 * dependency: it compiles at install time, so it needs python3, make and g++).
 */
export const NeighborEngineSchema = z.enum(['usearch', 'hnswlib']);
export type NeighborEngine = z.infer<typeof NeighborEngineSchema>;


/** What a layer's graph is built with. */
export interface GraphSpec {
  engine: NeighborEngine;
  storage: StorageChoice;
  params: HnswParams;
}

export const GRAPH_FILE_EXTENSION: Record<NeighborEngine, string> = { usearch: 'usearch', hnswlib: 'hnsw' };

/** hnswlib stores f32 only; a storage asked of it is refused rather than silently ignored. */
export function assertStorageFits(engine: NeighborEngine, storage: StorageChoice, where: string): void {
  if (engine === 'hnswlib' && storage !== 'auto' && storage !== 'f32') {
    throw new OodError('CONFIG_INVALID', `${where} asks for ${storage} storage, which the hnswlib engine does not have (it stores f32); use OOD_NEIGHBORS=usearch`);
  }
}

type HnswModule = typeof import('./hnsw-index.js');
let hnswModule: Promise<HnswModule> | undefined;

/** hnswlib-node is loaded only when asked for, so a machine without it serves on usearch. */
function loadHnswlib(): Promise<HnswModule> {
  hnswModule ??= import('./hnsw-index.js').catch((err: unknown) => {
    hnswModule = undefined;
    throw new OodError(
      'CONFIG_INVALID',
      'OOD_NEIGHBORS=hnswlib needs the optional package hnswlib-node, which is not installed here (it compiles at install time and needs python3, make and g++); use the default OOD_NEIGHBORS=usearch',
      { cause: err },
    );
  });
  return hnswModule;
}

export interface CreateOptions {
  /** Native insertion threads (usearch); 0 means every core. */
  buildThreads?: number;
}

/** An empty graph to insert into. `storage` is a fixed one here: `auto` is decided by whoever builds. */
export async function createGraph(engine: NeighborEngine, storage: Storage, dim: number, capacity: number, params: HnswParams, options: CreateOptions = {}): Promise<NeighborIndex> {
  if (engine === 'usearch') return UsearchIndex.create(dim, storage, params, { buildThreads: options.buildThreads ?? 0 });
  assertStorageFits(engine, storage, 'a graph');
  const { HnswIndex } = await loadHnswlib();
  return HnswIndex.create(dim, capacity, params);
}

export interface OpenOptions {
  /** Memory-map the file instead of reading it (usearch only; hnswlib always reads). */
  map?: boolean;
}

/** A graph saved by its engine's save(). */
export async function openGraph(engine: NeighborEngine, storage: Storage, path: string, dim: number, params: HnswParams, options: OpenOptions = {}): Promise<NeighborIndex> {
  if (engine === 'usearch') return UsearchIndex.open(path, dim, storage, params, { map: options.map ?? false });
  const { HnswIndex } = await loadHnswlib();
  return HnswIndex.load(path, dim, params);
}

/** Whether hnswlib-node can be loaded here (tests and the benchmark skip its rows when not). */
export async function hnswlibAvailable(): Promise<boolean> {
  try {
    await loadHnswlib();
    return true;
  } catch {
    return false;
  }
}
