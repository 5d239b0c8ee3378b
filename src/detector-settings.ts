import type { Config } from './config.js';
import { DETECTOR_SETTINGS, type DetectorSettings } from './detector/settings.js';

/**
 * The detector's share of the server settings: the ones it declares (taken over as parsed, so a
 * new one needs no line here), the model, and whether the review keeps reference inputs. Here,
 * beside the settings, rather than in detector/, so that the detector never reads `Config`.
 */
export function detectorSettings(config: Config): DetectorSettings {
  const declared = Object.fromEntries(Object.keys(DETECTOR_SETTINGS).map((key) => [key, config[key as keyof typeof DETECTOR_SETTINGS]]));
  return { ...(declared as Pick<Config, keyof typeof DETECTOR_SETTINGS>), model: config.model, keepReferences: config.reviewSize > 0 };
}
