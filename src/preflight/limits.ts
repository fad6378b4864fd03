/**
 * Bounds on what the preflight reads from a package it does not trust. A CAB's tables and its
 * compressed data are attacker-shaped input: counts are checked against the file's size before
 * anything is allocated, and decompression stops at these budgets (reported as "not inspected").
 */

/** An INF bigger than this (uncompressed) is not read; real INFs are kilobytes. */
export const MAX_INF_BYTES = 4 * 1024 * 1024;
/** Bytes decompressed per package in total, to reach the INFs (a folder decodes from its start). */
export const MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024;
/** The CAB header's reserve area: MS-CAB allows at most 60,000 bytes. */
export const MAX_HEADER_RESERVE = 60_000;
/** A CAB file name is at most 256 bytes with its terminating NUL (MS-CAB, CFFILE.szName). */
export const MAX_CAB_NAME_BYTES = 256;
/** An MSZIP or stored CFDATA block holds at most 32 KiB of uncompressed data (MS-CAB). */
export const MAX_BLOCK_UNCOMPRESSED = 32 * 1024;
/** INF lines longer than this (after joining continuations) are cut: the parser stays linear. */
export const MAX_INF_LINE_CHARS = 64 * 1024;
/** An Authenticode signature (PKCS#7 with its certificate chain) bigger than this is not read; real ones are a few KiB. */
export const MAX_SIGNATURE_BYTES = 1024 * 1024;
/** Central directory entries read from an HLKX/HCKX (a zip without Zip64 holds at most 65,535). */
export const MAX_ZIP_ENTRIES = 65_535;
/** A package part (XML relationships) bigger than this is not read. */
export const MAX_ZIP_PART_BYTES = 1024 * 1024;
/** A catalog (.cat) in a signed package bigger than this is not read; real ones are KiB to a few MiB. */
export const MAX_CATALOG_BYTES = 32 * 1024 * 1024;
