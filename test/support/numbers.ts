/** The last four digits handed out in this test process: they start at a random place and never repeat in it. */
let next = Math.floor(Math.random() * 5_000);

/**
 * A phone number no other verification of this test process has (`prefix` + four digits). The Vonage emulator, like
 * Vonage, refuses a second verification to a number that has one in progress (409), so two tests must not share one.
 */
export const uniqueNumber = (prefix = '+1415555'): string => `${prefix}${String(next++ % 10_000).padStart(4, '0')}`;
