/**
 * Display names of decoded ELF values, spelled as GNU readelf prints them (for summaries and for
 * comparing with readelf).
 * @see specs/interface.md §2
 */
import { DF_1_NAMES, DF_NAMES, STB_NAMES, STT_NAMES, STV_NAMES } from './format.ts';

/** `GLOBAL`, `WEAK`, `UNIQUE`, `LOCAL`, or `<n>` for an unknown STB_* value. */
export function bindingName(binding: number): string {
  return STB_NAMES[binding] ?? `<${binding}>`;
}
/** `FUNC`, `OBJECT`, `NOTYPE`, `TLS`, `IFUNC`, …, or `<n>` for an unknown STT_* value. */
export function symbolTypeName(type: number): string {
  return STT_NAMES[type] ?? `<${type}>`;
}
/** `DEFAULT`, `INTERNAL`, `HIDDEN` or `PROTECTED`. */
export function visibilityName(visibility: number): string {
  return STV_NAMES[visibility & 3]!;
}
/** The names of the set bits of DT_FLAGS (`BIND_NOW`, …), lowest bit first; unknown bits as hex. */
export function dtFlagsNames(flags: number): string[] {
  return bitNames(flags, DF_NAMES);
}
/** The names of the set bits of DT_FLAGS_1 (`NOW`, `PIE`, …), lowest bit first; unknown bits as hex. */
export function dtFlags1Names(flags: number): string[] {
  return bitNames(flags, DF_1_NAMES);
}

function bitNames(flags: number, table: readonly (readonly [number, string])[]): string[] {
  const out: string[] = [];
  let rest = flags >>> 0;
  for (const [bit, name] of table)
    if (rest & bit) {
      out.push(name);
      rest = (rest & ~bit) >>> 0;
    }
  if (rest) out.push(`0x${rest.toString(16)}`);
  return out;
}
