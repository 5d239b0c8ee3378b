import { OodError } from '../errors.js';

/** "1,28,28" -> [1, 28, 28]; anything else is refused naming the option. */
export function parseShape(text: string, option: string): number[] {
  if (!/^\d+(,\d+)*$/.test(text) || text.split(',').some((d) => Number(d) < 1)) {
    throw new OodError('CONFIG_INVALID', `${option} "${text}" must be positive integers separated by commas, e.g. 1,28,28`);
  }
  return text.split(',').map(Number);
}
