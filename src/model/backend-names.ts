/** The tfjs backends, best first. Apart from backend.ts so config can name them without loading tfjs. */
export const BACKENDS = ['tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
