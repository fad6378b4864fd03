/**
 * How the preflight reads a package: by byte range, so the same code reads a local file (the CLI) or,
 * later, a blob with ranged GETs, and never needs the whole package in memory.
 */
export interface RangeReader {
  /** Total size in bytes. */
  readonly size: number;
  /** Exactly `length` bytes from `offset` (the caller keeps inside `size`). */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** A reader over bytes already in memory (tests, and the CAB the pack command has just written). */
export function bytesReader(bytes: Uint8Array): RangeReader {
  return {
    size: bytes.length,
    read: async (offset, length) => {
      if (offset < 0 || length < 0 || offset + length > bytes.length) throw new RangeError(`read ${offset}+${length} is outside 0..${bytes.length}`);
      return bytes.subarray(offset, offset + length);
    },
  };
}
