/**
 * How the extranonce1 space is split so that no two Stratum processes anywhere hand a miner
 * identical work: every extranonce1 starts with the region's index (`region_index`, 0 for the
 * primary region), then the process's `--instance` index on its host, then a per-connection
 * counter. Two miners paying the same address on the same template therefore always get
 * different coinbases, whichever regions and processes they are connected to.
 *
 * @module
 */

/** The primary region's index; relays use 1 to 255. */
export const PRIMARY_REGION_INDEX = 0;

/** Bytes in front of the per-connection counter: region index, then process instance. */
export const EXTRANONCE1_PREFIX_BYTES = 2;

/** Fewest counter bytes after the prefix: 65,536 concurrent sessions per process. */
export const EXTRANONCE1_MIN_COUNTER_BYTES = 2;

/** Smallest `nonce1length` the partition leaves room for. */
export const MIN_NONCE1_LENGTH = EXTRANONCE1_PREFIX_BYTES + EXTRANONCE1_MIN_COUNTER_BYTES;

function assertByte(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 255) {
    throw new RangeError(`Cannot build extranonce1 prefix: ${name} ${value} is not 0-255`);
  }
}

/**
 * The extranonce1 prefix of one process: `[regionIndex, instanceIndex]`.
 *
 * @param regionIndex the region's index (`region_index`; {@link PRIMARY_REGION_INDEX} for the
 *   primary)
 * @param instanceIndex the process's `--instance` index on its host
 * @throws {RangeError} when either index is not an integer from 0 to 255
 */
export function extranonce1Prefix(regionIndex: number, instanceIndex: number): Uint8Array {
  assertByte(regionIndex, "region index");
  assertByte(instanceIndex, "instance index");
  return Uint8Array.of(regionIndex, instanceIndex);
}
