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
 */
export function collectGarbage(): number {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  const started = performance.now();
  gc();
  return performance.now() - started;
}
