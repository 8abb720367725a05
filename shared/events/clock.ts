/**
 * The event timestamp clock.
 *
 * @module
 */

/**
 * Current time in whole microseconds since the Unix epoch.
 *
 * Read from the monotonic clock anchored at the process's start (`performance.timeOrigin +
 * performance.now()`), so values never decrease within a process even if the wall clock is
 * stepped; over long uptimes they may drift from the wall clock by what NTP has slewed since.
 * Below 2^53 until the year 2255, so exact as a JSON number.
 *
 * @returns An integer number of microseconds.
 */
export function nowMicros(): number {
  // Each step (add, multiply, floor) is monotonic in floating point, so the result is too.
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}
