/** How a text model's strings become its packed rows (model/text/text-tokenizer.ts), and back. */
export interface TextCodec {
  /** Text into row `row` of `out`; throws INVALID_INSTANCE naming `path` for text it refuses. */
  encodeInto(text: string, out: Float32Array, row: number, path: string): void;
  /** A packed row as the text its tokens spell, for people reviewing it. */
  decode(row: ArrayLike<number>): string;
}
