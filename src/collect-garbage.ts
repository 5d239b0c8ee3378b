import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | undefined;

/**
 * One full garbage collection, now, and the milliseconds it took.
 *
 * Loading a model leaves hundreds of megabytes behind that nothing references any more: the
 * reference set, read whole to fingerprint it and split into copies (fashion-mnist's pixels are
 * 220 MB as float32), and, after a cold build, the graphs built in memory before the mapped copy
 * replaced them. V8 frees them only when its heap next needs room, which an idle server may not
 * reach for hours, so a replica would sit at ready with them resident. One collection right
 * after the load returns them. The flag is set here, not on the command line, so that every way
 * of starting the service gets it; a fresh context is where V8 installs `gc` once it is set.
 *
 * The collection stops the main thread for as long as it takes (23 to 35 ms for fashion-mnist);
 * on a reload the old model is still serving meanwhile, so its requests wait that long once.
 * Returns undefined, having collected nothing, where the runtime refuses the flag: the memory is
 * then only freed later, which is no reason to fail a load.
 */
export function collectGarbage(): number | undefined {
  if (!gc) {
    try {
      setFlagsFromString('--expose-gc');
      const exposed: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
      if (typeof exposed !== 'function') return undefined;
      gc = exposed as () => void;
    } catch {
      return undefined;
    }
  }
  const started = performance.now();
  gc();
  return performance.now() - started;
}
