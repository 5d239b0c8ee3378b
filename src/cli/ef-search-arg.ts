import { z } from 'zod';

/** `--ef-search input=128,hidden2=90`: efSearch for named layers, as the manifest's ef_search. */
export const EfSearchArgSchema = z
  .string()
  .regex(/^[^=,]+=\d+(,[^=,]+=\d+)*$/, '--ef-search must be LAYER=N pairs separated by commas, e.g. input=128')
  .transform((text) => Object.fromEntries(text.split(',').map((pair) => pair.split('=')).map(([layer, n]) => [layer, Number(n)])));
