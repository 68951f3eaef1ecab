/**
 * Route patterns in key config (`routes: [chat, "batch-*"]`): `*` stands for any run of
 * characters, `?` for one; everything else is literal. Compiled once per config snapshot.
 */
export function globRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

export function routeMatches(pattern: string, route: string): boolean {
  return pattern.includes('*') || pattern.includes('?') ? globRegExp(pattern).test(route) : pattern === route;
}
