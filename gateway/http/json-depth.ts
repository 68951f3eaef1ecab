/**
 * The nesting depth of a JSON text, stopping as soon as it passes `max`. One pass over
 * the characters, strings skipped, no allocation: it runs before JSON.parse so a body
 * nested 100,000 deep is refused before it can reach a recursive step (a parser, a
 * validator or JSON.stringify for the upstream) that would overflow the stack.
 * Malformed text is left to JSON.parse to report.
 */
export function exceedsDepth(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}
